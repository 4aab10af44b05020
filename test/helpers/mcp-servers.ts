import assert from "node:assert/strict";
import { resolve } from "node:path";
import type { McpServerConfig } from "../../src/config/ptc-config.js";
import type { ToolCallContext } from "../../src/protocol/tool.js";
import { delay } from "./engine.js";

/** Real servers from the pinned devDependencies, run with this Node over stdio. */
export const EVERYTHING = resolve("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
export const FILESYSTEM = resolve("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js");

export function everythingServer(extra: Partial<McpServerConfig> = {}): McpServerConfig {
  return { command: process.execPath, args: [EVERYTHING, "stdio"], ...extra };
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

export function callContext(timeoutMs = 30_000): ToolCallContext {
  return {
    callId: "test",
    executionId: "test",
    containerId: "test",
    caller: "code_execution",
    signal: new AbortController().signal,
    deadline: Date.now() + timeoutMs,
  };
}
