/**
 * The `ptc` CLI as a child process, the way a user runs it: tests of the commands and the load benchmark
 * share these, so that how the CLI is found, started, fed an environment and read is written once.
 */

import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { fileURLToPath } from "node:url";

/** bin/ptc.js, which runs dist/: a test that uses it needs `npm run build` first. */
export const PTC_BIN = fileURLToPath(new URL("../../bin/ptc.js", import.meta.url));
const MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export type CliChild = ChildProcessByStdio<null, Readable, Readable>;

export interface CliOptions {
  cwd?: string;
  /** Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Another copy of bin/ptc.js (e.g. an install without some package). */
  bin?: string;
  /** The CLI from src/ through tsx instead of bin/ptc.js, whose dist/ may predate the checkout's changes. */
  fromSource?: boolean;
}

export interface CliOutcome {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

export interface RunCliOptions extends CliOptions {
  /** A CLI still running after this long is killed (its outcome then says so: a null exit code). */
  killAfterMs?: number;
  /** Called with all of stderr so far, each time more arrives. */
  onStderr?: (stderr: string) => void;
}

/** What a child process has written so far; `onStderr` sees all of stderr each time more arrives. */
export function collectOutput(
  child: { stdout: Readable; stderr: Readable },
  onStderr?: (stderr: string) => void,
): { stdout(): string; stderr(): string } {
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
    onStderr?.(stderr);
  });
  return { stdout: () => stdout, stderr: () => stderr };
}

/** Starts `ptc ARGS` with stdin closed and stdout and stderr piped. */
export function spawnCli(args: readonly string[], options: CliOptions = {}): CliChild {
  const entry = options.fromSource
    ? [
        "--import",
        "tsx",
        "--input-type=module",
        "--eval",
        `const { main } = await import(${JSON.stringify(MAIN)}); process.exitCode = await main(process.argv.slice(1));`,
      ]
    : [options.bin ?? PTC_BIN];
  // Each `ptc serve` gets a data directory (its default SQLite store) of its own, unless the test names one.
  const env = options.env ?? process.env;
  const isolated =
    args[0] === "serve" && env.PTC_DATA_DIR === undefined
      ? { ...env, PTC_DATA_DIR: mkdtempSync(join(tmpdir(), "ptc-data-")) }
      : options.env;
  return spawn(process.execPath, [...entry, ...args], {
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(isolated !== undefined ? { env: isolated } : {}),
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Runs `ptc ARGS` to the end, whatever its exit code. */
export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliOutcome> {
  const child = spawnCli(args, options);
  const output = collectOutput(child, options.onStderr);
  const killer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 120_000);
  try {
    const exitCode = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      // "close", not "exit": by then stdout and stderr have been read to their end.
      child.once("close", (code) => resolve(code));
    });
    return { stdout: output.stdout(), stderr: output.stderr(), exitCode };
  } finally {
    clearTimeout(killer);
  }
}

/** Runs `ptc ARGS`, failing the test (with its stderr) unless it exits 0. */
export async function runCliOk(args: readonly string[], options: RunCliOptions = {}): Promise<CliOutcome> {
  const outcome = await runCli(args, options);
  assert.equal(outcome.exitCode, 0, `ptc ${args.join(" ")} exited ${outcome.exitCode}:\n${outcome.stderr}`);
  return outcome;
}
