import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, test } from "node:test";
import { createSampleTools } from "../../src/sample/index.js";
import { delay } from "../helpers/engine.js";
import {
  assertCompleted,
  assertFailedWith,
  type Harness,
  isAlive,
  OTHER_KEY,
  startHarness,
  underAttack,
  type WireExecution,
  type WireResult,
} from "./harness.js";

/**
 * The host's event loop: a tool call must never freeze it. The sample's query_database runs SQLite,
 * which is synchronous and cannot be interrupted; run on the host's thread, one recursive CTE stopped
 * /health, every other execution and the per-tool timeout itself (the call "succeeded" after 21 s at a
 * 2 s timeout). Each case checks, while the query runs, that /health answers within a second and the
 * host's event loop never stalls for one, that the call ends in tool_timeout at about the timeout, and
 * that the process running the query is killed, not left burning a core.
 */

const sample = createSampleTools();
after(() => sample.close());
const harness: Harness = await startHarness({ tools: [...sample] });

/** Never ends: SQLite counts for ever without returning a row (or control) to its caller. */
const UNBOUNDED = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM r) SELECT count(*) AS n FROM r";
/** Ends, after 20 s or more on a fast machine: far past the 2 s tool timeout. */
const LONG =
  "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM r WHERE x < 100000000) SELECT count(*) AS n FROM r";
const TOOL_TIMEOUT_MS = 2_000;
const RESPONSIVE_MS = 1_000;

const lines = (state: WireExecution) => state.result?.stdout.trim().split("\n") ?? [];

interface HostWatch<T> {
  value: T;
  /** The longest a /health probe took, counted from when it was due (a frozen loop delays both). */
  slowestHealthMs: number;
  /** The longest the host's event loop went without running a timer. */
  longestStallMs: number;
}

/** Runs `work` while probing /health every 100 ms and recording the host's event-loop delay. */
async function watchHost<T>(work: () => Promise<T>): Promise<HostWatch<T>> {
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  let done = false;
  let slowestHealthMs = 0;
  const probing = (async () => {
    while (!done) {
      const due = performance.now() + 100;
      await delay(100);
      const response = await fetch(`${harness.url}/health`);
      assert.equal(response.status, 200);
      await response.text();
      slowestHealthMs = Math.max(slowestHealthMs, performance.now() - due);
    }
  })();
  try {
    const value = await work();
    return { value, slowestHealthMs, longestStallMs: stalls.max / 1e6 };
  } finally {
    done = true;
    await probing;
    stalls.disable();
  }
}

function assertResponsive(watch: HostWatch<unknown>): void {
  assert.ok(watch.slowestHealthMs < RESPONSIVE_MS, `/health took ${Math.round(watch.slowestHealthMs)} ms`);
  assert.ok(
    watch.longestStallMs < RESPONSIVE_MS,
    `the host's event loop stalled ${Math.round(watch.longestStallMs)} ms`,
  );
}

/** CPU time (user + system, in clock ticks) of each query process under this one. */
function queryProcessTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const task of readdirSafe(`/proc/${process.pid}/task`)) {
    let children = "";
    try {
      children = readFileSync(`/proc/${process.pid}/task/${task}/children`, "utf8");
    } catch {}
    for (const pid of children.trim().split(/\s+/).filter(Boolean).map(Number)) {
      try {
        if (!/query-process\.(ts|js)/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8"))) continue;
        const fields = (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
        ticks.set(pid, Number(fields[11]) + Number(fields[12]));
      } catch {}
    }
  }
  return ticks;
}

function readdirSafe(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

/** The query process using CPU right now (the one running the attack's query), if any. */
async function busyQueryProcess(timeoutMs = 15_000): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const before = queryProcessTicks();
    await delay(300);
    let busiest: [pid: number, used: number] = [0, 0];
    for (const [pid, ticks] of queryProcessTicks()) {
      const used = ticks - (before.get(pid) ?? ticks);
      if (used > busiest[1]) busiest = [pid, used];
    }
    if (busiest[1] > 0) return busiest[0];
  }
  return undefined;
}

/** The process that ran the query is gone: killed, not left running it. */
async function assertKilled(pid: number | undefined): Promise<void> {
  assert.ok(pid !== undefined, "no query process ran the query (was the SQL running on the host's thread?)");
  const deadline = Date.now() + 5_000;
  while (isAlive(pid) && Date.now() < deadline) await delay(20);
  assert.ok(!isAlive(pid), `the query process ${pid} was killed`);
}

/** A tool call that ended in tool_timeout at about the timeout: not before it, and not long after. */
function assertTimedOut(result: WireResult, index: number): void {
  const call = result.tool_calls[index] as WireResult["tool_calls"][number] & { duration_ms: number };
  assert.equal(call.error?.code, "tool_timeout", JSON.stringify(call));
  assert.ok(
    call.duration_ms >= TOOL_TIMEOUT_MS - 50 && call.duration_ms < TOOL_TIMEOUT_MS + RESPONSIVE_MS,
    `the call took ${Math.round(call.duration_ms)} ms`,
  );
}

/** Another key's execution that queries the same database while the attack's query runs. */
async function neighbourQuery(): Promise<void> {
  const state = await harness.execute(
    {
      code: "rows = await query_database(sql='SELECT count(*) AS n FROM orders')\nprint('neighbour', rows[0]['n'])",
      limits: { wall_timeout_ms: 30_000 },
    },
    OTHER_KEY,
  );
  assert.equal(state.status, "completed", JSON.stringify(state.result?.error));
  assert.equal(state.result?.stdout, "neighbour 20000\n");
  harness.containers.delete(state.container_id);
  const { status } = await harness.request("DELETE", `/v1/containers/${state.container_id}`, undefined, OTHER_KEY);
  assert.equal(status, 200);
}

test("a 20 s recursive CTE ends in tool_timeout at the 2 s tool timeout; /health, the event loop and another key's query never wait for it", async () => {
  // Protection: query_database runs SQL in a child process (src/sample/query-processes.ts) that the
  // call's signal SIGKILLs at the per-tool timeout (ToolCallBroker #arm aborts it).
  await underAttack(harness, async () => {
    const watch = await watchHost(async () => {
      const attack = harness.execute({
        code: `await query_database(sql=${JSON.stringify(LONG)})`,
        limits: { tool_timeout_ms: TOOL_TIMEOUT_MS, wall_timeout_ms: 30_000 },
      });
      const busy = await busyQueryProcess();
      await neighbourQuery();
      return { state: await attack, busy };
    });
    assertResponsive(watch);
    const result = await assertFailedWith(harness, watch.value.state, "tool_timeout");
    assertTimedOut(result, 0);
    assert.ok(result.limits_hit.includes("tool_timeout"));
    await assertKilled(watch.value.busy);
  });
});

test("an unbounded recursive CTE ends in tool_timeout, the script goes on, and later queries work", async () => {
  await underAttack(harness, async () => {
    const watch = await watchHost(async () => {
      const attack = harness.execute({
        code: [
          "try:",
          `    await query_database(sql=${JSON.stringify(UNBOUNDED)})`,
          "except ToolTimeoutError as error:",
          "    print('timed out', error.code)",
          "rows = await query_database(sql='SELECT COUNT(*) AS n FROM orders')",
          "print('later', rows[0]['n'])",
        ].join("\n"),
        limits: { tool_timeout_ms: TOOL_TIMEOUT_MS, wall_timeout_ms: 30_000 },
      });
      const busy = await busyQueryProcess();
      await neighbourQuery();
      return { state: await attack, busy };
    });
    assertResponsive(watch);
    const result = await assertCompleted(harness, watch.value.state);
    assert.deepEqual(lines(watch.value.state), ["timed out tool_timeout", "later 20000"]);
    assertTimedOut(result, 0);
    assert.equal(result.tool_calls[1]?.ok, true);
    await assertKilled(watch.value.busy);
  });
});

test("cancelling an execution kills the query it is running", async () => {
  // Protection: the broker aborts every live call's signal when the execution ends (cancel included).
  await underAttack(harness, async () => {
    const state = await harness.execute({
      code: `await query_database(sql=${JSON.stringify(UNBOUNDED)})`,
      wait: 0,
      limits: { tool_timeout_ms: 60_000, wall_timeout_ms: 60_000 },
    });
    const busy = await busyQueryProcess();
    const started = performance.now();
    const { status, json } = await harness.request("DELETE", `/v1/executions/${state.id}`);
    assert.equal(status, 200);
    await assertFailedWith(harness, json as WireExecution, "cancelled", "cancelled");
    await assertKilled(busy);
    assert.ok(performance.now() - started < RESPONSIVE_MS * 2, "killed at the cancel, not at a timeout");
    const later = await harness.execute({ code: "print((await query_database(sql='SELECT 6 * 7 AS n'))[0]['n'])" });
    assert.equal((await assertCompleted(harness, later)).stdout, "42\n");
  });
});
