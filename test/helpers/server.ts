/**
 * Servers as tests reach them: an app on a loopback port (in process), and `ptc serve` / `ptc mcp --http`
 * as a child process, ready once it has printed its URL.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type CliChild, type CliOptions, collectOutput, spawnCli } from "./cli.js";

export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

/** Serves a fetch handler (a Hono app's `fetch`) on a free loopback port: real HTTP, as a client sees it. */
export async function serveOnLoopback(
  fetch: (request: Request) => Response | Promise<Response>,
): Promise<LoopbackServer> {
  return await new Promise((resolve) => {
    const server = serve({ fetch, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            if ("closeAllConnections" in server) server.closeAllConnections();
            server.close(() => done());
          }),
      }),
    );
  });
}

export interface ServingCli {
  /** From its "ptc serve: listening on URL" / "ptc mcp: listening on URL" line. */
  url: string;
  child: CliChild;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then its exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `ptc serve ...` or `ptc mcp --http ...` and resolves once it listens. A CLI that exits first, or
 * prints no URL within `timeoutMs`, fails with its stderr (and is not left running).
 */
export async function startServingCli(
  args: readonly string[],
  options: CliOptions & { timeoutMs?: number } = {},
): Promise<ServingCli> {
  const child = spawnCli(args, options);
  const output = collectOutput(child);
  const exited = once(child, "exit") as Promise<[number | null]>;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no "listening on" line on stderr: ${output.stderr().slice(-2000)}`)),
        options.timeoutMs ?? 120_000,
      );
      // After collectOutput's own listener, so that it sees this chunk too.
      child.stderr.on("data", () => {
        const match = /^ptc (?:mcp|serve): listening on (http:\/\/\S+)/m.exec(output.stderr());
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      void exited.then(([code]) => {
        clearTimeout(timer);
        reject(new Error(`ptc ${args[0]} exited with ${code}: ${output.stderr().slice(-2000)}`));
      });
    });
    return {
      url,
      child,
      ...output,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        const [code] = await exited;
        return code;
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}
