import { Writable } from "node:stream";

export interface ProtocolStdout {
  /** The only way left to write to fd 1: hand it to `StdioServerTransport`. */
  readonly channel: Writable;
  /** Gives `process.stdout.write` back. */
  release(): void;
}

/**
 * In stdio mode fd 1 carries protocol frames and nothing else. Anything else in the process that writes
 * to `process.stdout` (`console.log`, `process.stdout.write` in a tools module, a library's banner) would
 * corrupt a frame: a write without a newline glues itself onto the next frame, the client drops that
 * frame, and the request it answered never completes. This reserves stdout for the protocol and sends
 * every other write to stderr. Call it before loading tools modules, which may write when imported.
 * (A child process started with `stdio: "inherit"` writes to fd 1 directly; nothing in-process can stop that.)
 */
export function claimStdoutForProtocol(): ProtocolStdout {
  const stdout = process.stdout;
  const ownWrite = Object.hasOwn(stdout, "write") ? stdout.write : undefined;
  const writeToStdout = stdout.write.bind(stdout);
  const channel = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      // The callback runs once the chunk is flushed to fd 1, so the transport's backpressure still holds.
      writeToStdout(chunk, (error) => callback(error ?? null));
    },
  });
  // A client that went away shows up as the end of stdin; a failed write must not crash the server.
  channel.on("error", () => {});
  stdout.write = process.stderr.write.bind(process.stderr) as typeof stdout.write;
  return {
    channel,
    release() {
      if (ownWrite === undefined) Reflect.deleteProperty(stdout, "write");
      else stdout.write = ownWrite;
    },
  };
}
