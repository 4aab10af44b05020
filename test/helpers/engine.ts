import { createEngine, type Engine, type EngineOptions } from "../../src/engine/engine.js";
import type { ToolCallContext, ToolDefinition } from "../../src/protocol/tool.js";

/** One engine per test file: sandboxes are real child processes, so starting them is the slow part. */
/**
 * An engine for tests: a pool of one warm sandbox unless the test asks for more. Each warm sandbox costs a
 * start (~2 s of CPU) whether or not the test uses it, and a one-off execution's sandbox is recycled (a
 * reset, ~0.25 s) for the next; the suite is CPU-bound on 2 cores.
 */
export function testEngine(options: EngineOptions = {}): Engine {
  return createEngine({ pool: { size: 1, ...options.pool }, ...options });
}

export function codeTool(
  name: string,
  handler?: ToolDefinition["handler"],
  inputSchema: ToolDefinition["inputSchema"] = { type: "object" },
): ToolDefinition {
  return {
    name,
    description: `test tool ${name}`,
    inputSchema,
    allowedCallers: ["code_execution"],
    ...(handler ? { handler } : {}),
  };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition()` holds, polling every 20 ms; fails the test naming `what` past `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** The context a host passes a tool handler, for calling handlers directly. */
export function callContext(overrides: Partial<ToolCallContext> = {}): ToolCallContext {
  return {
    callId: `call_test_${Math.random().toString(36).slice(2)}`,
    executionId: "exec_test",
    containerId: "container_test",
    caller: "code_execution",
    signal: new AbortController().signal,
    deadline: Date.now() + 5_000,
    ...overrides,
  };
}
