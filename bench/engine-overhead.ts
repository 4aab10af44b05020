import { Execution } from "../src/engine/execution.js";
import type { IsolationReport } from "../src/protocol/execution.js";
import { resolveLimits } from "../src/protocol/limits.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import type { SandboxProcess, SandboxRunListener, SandboxRunOutcome } from "../src/sandbox/sandbox-process.js";
import { ToolRegistry } from "../src/tools/tool-registry.js";
import { check, noopTool } from "./engine-cases.js";
import { median } from "./stats.js";

/**
 * The engine's own CPU per sequential tool call (issue 14's "engine overhead"), without the crossing: an
 * Execution whose sandbox is a stand-in in this process, which makes the next call (`{"x":i}`, as the
 * guest's stub sends it) on the next turn of the event loop after each result, as a child's next frame
 * arrives. What is left is everything the host does per call between the bridge and the pipe: broker,
 * journal, events, deadlines, budgets, handler context, result encoding, token count at the end.
 *   node --import tsx bench/engine-overhead.ts [calls] [repeats]
 * A stand-in that only answers (the `floor` line) costs what the loop itself does: setImmediate per call.
 */
const calls = Number(process.argv[2] ?? 50_000);
const repeats = Number(process.argv[3] ?? 7);

/** Runs `calls` calls as the child would, one after another, each made once the last one's result came. */
function standIn(calls: number): SandboxProcess {
  let listener: SandboxRunListener | null = null;
  let finish: (outcome: SandboxRunOutcome) => void = () => {};
  let made = 0;
  const next = () => {
    if (made === calls) {
      listener = null;
      finish({ kind: "done", error: null, dropped: { stdout: 0, stderr: 0 }, memoryLimitHit: false });
      return;
    }
    made++;
    listener?.onToolCall(made, "noop", `{"x":${made}}`);
  };
  const sandbox = {
    run: (_request: unknown, each: SandboxRunListener) => {
      listener = each;
      setImmediate(next);
      return new Promise<SandboxRunOutcome>((resolve) => {
        finish = resolve;
      });
    },
    sendToolResult: () => setImmediate(next),
    cpuTimeMs: () => undefined,
    kill: () => {},
  };
  return sandbox as unknown as SandboxProcess;
}

const registry = ToolRegistry.from([noopTool as ToolDefinition]);
const limits = resolveLimits({ maxToolCalls: calls * 2 });
const isolation: IsolationReport = { level: "process", guarantees: [], gaps: [] } as unknown as IsolationReport;

async function engineRun(n: number): Promise<void> {
  const sandbox = standIn(n);
  const execution = new Execution({
    id: "exec_overhead",
    code: "",
    language: "javascript",
    containerId: "c",
    registry,
    limits,
    resultMode: "json",
    isolation,
    lease: async () => ({
      containerId: "c",
      sandbox,
      reset: false,
      seed: undefined,
      firstRun: false,
      release: () => {},
    }),
  });
  const result = check(await execution.result, "engine loop");
  if (result.toolCalls.length !== n) throw new Error(`made ${result.toolCalls.length} calls, expected ${n}`);
}

/** The stand-in alone, answering each call itself: the loop's own cost. */
async function floorRun(n: number): Promise<void> {
  const sandbox = standIn(n);
  await sandbox.run({} as never, {
    onToolCall: (callId) => sandbox.sendToolResult(callId, true, "0"),
    onOutput: () => {},
  });
}

for (const [label, run] of [
  ["floor", floorRun],
  ["engine", engineRun],
] as const) {
  await run(2_000);
  await run(2_000);
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const before = process.cpuUsage();
    await run(calls);
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / calls);
  }
  console.log(
    `${label}: CPU ${median(cpu).toFixed(2)} µs per call (median of ${repeats}; ${cpu.map((each) => each.toFixed(2)).join(" ")})`,
  );
}
