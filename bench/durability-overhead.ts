// The cost of durability per tool call and per execution: the same loops with no write-ahead and with the
// write-ahead into each store, in one engine and one warm sandbox, variants interleaved so that drift in the
// machine's load spreads over all of them alike.
import { createEngine, type Engine } from "../src/engine/engine.js";
import type { WriteAhead } from "../src/engine/write-ahead.js";
import type { ExecutionResult } from "../src/protocol/execution.js";
import type { ToolDefinition } from "../src/protocol/tool.js";
import { storeWriteAhead } from "../src/server/durable/store-journal.js";
import { openStore } from "../src/server/store/open-store.js";
import type { ContainerLease, Store } from "../src/server/store/store.js";
import type { BenchStores, StoreKind } from "./durability-stores.js";
import { check, noopTool } from "./engine-cases.js";
import { elapsedMs, type Measurement, summarize } from "./stats.js";

export type Variant = "none" | StoreKind;
export const VARIANTS: readonly Variant[] = ["none", "memory", "sqlite", "postgres"];
export const PER_CALL_TARGET_RATIO = 1.5;

/** The engine's container and each store's: one name, so every variant runs in the same warm sandbox. */
const CONTAINER = "overhead";

interface Target {
  variant: Variant;
  store: Store | undefined;
  lease: ContainerLease;
  executions: number;
}

/** Sums the time spent in the write-ahead's writes: they run one at a time, so it is time on the call's path. */
export class WriteClock {
  ms = 0;
  wrap(inner: WriteAhead): WriteAhead {
    const timed = <T>(write: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      return write().finally(() => {
        this.ms += elapsedMs(started);
      });
    };
    return { call: (call) => timed(() => inner.call(call)), result: (result) => timed(() => inner.result(result)) };
  }
}

/** Runs `code` as an execution of `target`: with a store, created, written ahead and finished in it as a server does. */
async function run(
  engine: Engine,
  target: Target,
  code: string,
  calls: number,
  clock: WriteClock,
): Promise<ExecutionResult> {
  const limits = { maxToolCalls: calls + 10 };
  const { store, lease } = target;
  if (!store) return engine.execute({ code, container: CONTAINER, limits }).result;
  const executionId = `exec_${target.variant}_${++target.executions}`;
  await store.createExecution(lease, { id: executionId, code, language: "python", apiKeyOwner: undefined });
  const writeAhead = clock.wrap(storeWriteAhead(store, () => lease, executionId));
  const result = await engine.execute({ code, container: CONTAINER, executionId, limits, writeAhead }).result;
  await store.finishExecution(lease, executionId, {
    status: result.status === "completed" ? "done" : "failed",
    result: { stdout: result.stdout },
  });
  return result;
}

const SEQUENTIAL = (calls: number) => `for i in range(${calls}):
    assert await noop(x=i) == i
print("ok")`;

export interface OverheadOptions {
  calls: number;
  repeats: number;
  /** Short executions (one call each) per round, and rounds. */
  executions: number;
  rounds: number;
}

export async function durabilityOverhead(stores: BenchStores, options: OverheadOptions): Promise<Measurement[]> {
  const engine = createEngine({ pool: { size: 1 }, tools: [noopTool as ToolDefinition] });
  const targets: Target[] = [];
  try {
    for (const variant of VARIANTS) {
      const store = variant === "none" ? undefined : await openStore(await stores.url(variant, "overhead"));
      await store?.createContainer({
        id: CONTAINER,
        owner: undefined,
        seed: 1,
        ownerNode: "bench-node",
        idleTimeoutMs: 3_600_000,
      });
      targets.push({ variant, store, lease: { containerId: CONTAINER, epoch: 1 }, executions: 0 });
    }
    // A fresh sandbox's first thousands of calls run several times slower (the call path is not yet
    // compiled to its fastest tier); they are not counted.
    const warm = new WriteClock();
    for (const target of targets) check(await run(engine, target, SEQUENTIAL(2_000), 2_000, warm), "warm-up", "ok\n");

    const perCall = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const inWrites = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (let r = 0; r < options.repeats; r++) {
      for (const target of targets) {
        const clock = new WriteClock();
        const started = performance.now();
        check(
          await run(engine, target, SEQUENTIAL(options.calls), options.calls, clock),
          `${target.variant} calls`,
          "ok\n",
        );
        perCall.get(target.variant)?.push((elapsedMs(started) * 1000) / options.calls);
        inWrites.get(target.variant)?.push((clock.ms * 1000) / options.calls);
      }
    }

    const perSecond = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    const latency = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
    for (let round = 0; round < options.rounds; round++) {
      for (const target of targets) {
        const clock = new WriteClock();
        const started = performance.now();
        for (let i = 0; i < options.executions; i++) {
          const one = performance.now();
          const code = `print(await noop(x=${i}))`;
          check(await run(engine, target, code, 1, clock), `${target.variant} short execution`, `${i}\n`);
          latency.get(target.variant)?.push(elapsedMs(one));
        }
        perSecond.get(target.variant)?.push(options.executions / (elapsedMs(started) / 1000));
      }
    }

    const rows: Measurement[] = [];
    for (const variant of VARIANTS) {
      const name = variant === "none" ? "no write-ahead" : `write-ahead into ${variant}`;
      rows.push(
        summarize(
          `perCall_${variant}`,
          `per call, ${options.calls} sequential, ${name}`,
          "µs",
          perCall.get(variant) ?? [],
        ),
      );
      if (variant !== "none") {
        rows.push(
          summarize(
            `perCall_${variant}_writes`,
            "  of which in the store's two writes",
            "µs",
            inWrites.get(variant) ?? [],
          ),
        );
      }
    }
    for (const variant of VARIANTS) {
      const name = variant === "none" ? "no store" : variant;
      rows.push(
        summarize(
          `execPerS_${variant}`,
          `short executions (1 call each), ${name}`,
          "exec/s",
          perSecond.get(variant) ?? [],
          `${options.rounds} rounds of ${options.executions}`,
        ),
        summarize(`execLatency_${variant}`, "  latency per execution", "ms", latency.get(variant) ?? []),
      );
    }
    return rows;
  } finally {
    await engine.close();
    await Promise.allSettled(targets.map((target) => target.store?.close()));
  }
}
