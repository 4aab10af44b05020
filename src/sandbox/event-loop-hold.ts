import type { ChildProcess } from "node:child_process";
import { Socket } from "node:net";

/**
 * Whether a child process and its stdio pipes keep the host's event loop alive (`ref`) or not (`unref`):
 * each is a handle of its own, and an unref'd child with ref'd pipes still holds the process.
 */
export function holdEventLoop(child: ChildProcess, held: boolean): void {
  if (held) child.ref();
  else child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    if (!(stream instanceof Socket)) continue;
    if (held) stream.ref();
    else stream.unref();
  }
}
