// The durability bench's cases, in the order `npm run bench:durability` runs them. Each returns its rows, the
// ratios it reads from them and the targets issue 13 sets.

import { idleContainersPerGiB } from "./durability-eviction.js";
import { threeNodes } from "./durability-nodes.js";
import { durabilityOverhead, PER_CALL_TARGET_RATIO, VARIANTS } from "./durability-overhead.js";
import { commitProfile } from "./durability-profile.js";
import { RESUME_TARGET_FACTOR, resumeAfterRestart, VERCEL_RUN_RESUME_MS } from "./durability-resume.js";
import type { BenchStores } from "./durability-stores.js";
import type { TargetCheck } from "./report.js";
import { formatNumber, type Measurement } from "./stats.js";

export const RESUME_CALLS = 10_000;
export const RESTARTS = 3;
/**
 * Calls per execution in the warm overhead loop. Not 10,000: on the SQL stores a call's writes grow with the
 * execution's length (recordCallResult's MAX(completed_order) reads every earlier row of the execution), so
 * 10,000-call executions cost 23 s (SQLite) and 56 s (PostgreSQL) each. The resume case's first life is one
 * such execution per store, and its row gives the 10,000-call figure.
 */
export const OVERHEAD_CALLS = 2_000;

export interface CaseResult {
  measurements: Measurement[];
  /** "x vs y = r×" lines, computed from this run's medians. */
  ratios: string[];
  targets: TargetCheck[];
}

export interface DurabilityCase {
  /** What `--case` names it by. */
  key: string;
  name: string;
  run(stores: BenchStores, options: CaseOptions): Promise<CaseResult>;
}

export type SqlStoreKind = "sqlite" | "postgres";
export const SQL_STORE_KINDS: readonly SqlStoreKind[] = ["sqlite", "postgres"];

export interface CaseOptions {
  /** The SQL stores the resume case restarts on (`--stores`); default both. */
  sqlStores: readonly SqlStoreKind[];
}

function medianOf(rows: readonly Measurement[], key: string): number {
  const row = rows.find((each) => each.key === key);
  if (!row) throw new Error(`no row ${key}`);
  return row.median;
}

const resume: DurabilityCase = {
  key: "resume",
  name: `resume after restart (${RESUME_CALLS} calls, ${RESTARTS} restarts per store)`,
  async run(stores, { sqlStores: kinds }) {
    const measurements = await resumeAfterRestart(stores, kinds, RESUME_CALLS, RESTARTS);
    const ratios: string[] = [];
    const targets: TargetCheck[] = [];
    for (const kind of kinds) {
      const ms = medianOf(measurements, `resume_${kind}`);
      const { low, high } = VERCEL_RUN_RESUME_MS;
      ratios.push(
        `resume, ${kind}: ${formatNumber(ms)} ms vs Vercel run ${low}–${high} ms (2026-11, this machine) = ${(low / ms).toFixed(1)}–${(high / ms).toFixed(1)}× faster`,
      );
      const limit = low / RESUME_TARGET_FACTOR;
      const first = medianOf(measurements, `firstLife_${kind}`) / medianOf(measurements, "firstLife_none");
      ratios.push(
        `${RESUME_CALLS} calls written ahead, ${kind}: ${first.toFixed(2)}× the time without a store (one run each, fresh sandboxes)`,
      );
      targets.push({
        label: `resume, ${kind}, ≥ ${RESUME_TARGET_FACTOR}× faster than ${low} ms`,
        value: ms,
        limit,
        unit: "ms",
        met: ms <= limit,
      });
    }
    return { measurements, ratios, targets };
  },
};

const overhead: DurabilityCase = {
  key: "overhead",
  name: `overhead of durability (${OVERHEAD_CALLS} sequential calls; short executions)`,
  async run(stores) {
    const measurements = await durabilityOverhead(stores, {
      calls: OVERHEAD_CALLS,
      repeats: 3,
      executions: 40,
      rounds: 3,
    });
    const none = medianOf(measurements, "perCall_none");
    const noneRate = medianOf(measurements, "execPerS_none");
    const ratios: string[] = [];
    const targets: TargetCheck[] = [];
    for (const variant of VARIANTS.filter((each) => each !== "none")) {
      const perCall = medianOf(measurements, `perCall_${variant}`);
      const ratio = perCall / none;
      ratios.push(
        `per call, ${variant}: ${formatNumber(perCall)} µs vs ${formatNumber(none)} µs without a store = ${ratio.toFixed(2)}×`,
      );
      const rate = medianOf(measurements, `execPerS_${variant}`);
      ratios.push(
        `short executions, ${variant}: ${formatNumber(rate)}/s vs ${formatNumber(noneRate)}/s without a store = ${(rate / noneRate).toFixed(2)}×`,
      );
      targets.push({
        label: `per-call cost, ${variant} / no store`,
        value: ratio,
        limit: PER_CALL_TARGET_RATIO,
        unit: "×",
        met: ratio <= PER_CALL_TARGET_RATIO,
      });
    }
    return { measurements, ratios, targets };
  },
};

const profile: DurabilityCase = {
  key: "profile",
  name: "where a durable call's time goes (raw commits and round trips)",
  async run(stores) {
    const measurements = await commitProfile(stores, 2_000, 3);
    const full = medianOf(measurements, "sqliteCommit_FULL");
    const normal = medianOf(measurements, "sqliteCommit_NORMAL");
    const rtt = medianOf(measurements, "pgRoundTrip");
    const on = medianOf(measurements, "pgCommit_on");
    const off = medianOf(measurements, "pgCommit_off");
    return {
      measurements,
      ratios: [
        `SQLite: the fsync per commit is ${formatNumber(full - normal)} µs of a ${formatNumber(full)} µs commit; two per call`,
        `PostgreSQL: the WAL flush per commit is ${formatNumber(on - off)} µs; a call is 2 single-statement commits (the common case) × ${formatNumber(rtt)} µs round trip ≈ ${formatNumber(2 * rtt)} µs before the flushes`,
      ],
      targets: [],
    };
  },
};

/** 16 warm sandboxes are ~2.7 GiB PSS on this 24 GiB machine; 2 s of idleness evicts them in the run. */
export const EVICTION = { containers: 16, evictIdleMs: 2_000 };

const eviction: DurabilityCase = {
  key: "eviction",
  name: `idle containers per GiB (${EVICTION.containers} containers, evictIdleMs 0 and ${EVICTION.evictIdleMs}; SQLite)`,
  async run() {
    const { measurements, perGiB, firstUse } = await idleContainersPerGiB(EVICTION);
    return {
      measurements,
      ratios: [
        `idle containers per GiB: ${formatNumber(perGiB.kept)} without eviction, ${formatNumber(perGiB.evicted)} with (${(perGiB.evicted / perGiB.kept).toFixed(1)}×)`,
        `first use after eviction (replay, warm sandbox): ${formatNumber(firstUse.evicted)} ms vs ${formatNumber(firstUse.kept)} ms when kept = ${(firstUse.evicted / firstUse.kept).toFixed(1)}×`,
      ],
      targets: [],
    };
  },
};

export const NODES = { nodes: 3, executions: 200, containers: 24 };

const nodes: DurabilityCase = {
  key: "nodes",
  name: `${NODES.nodes} nodes on one PostgreSQL, ${NODES.executions} simultaneous executions`,
  async run(stores) {
    const result = await threeNodes(stores, NODES);
    return {
      measurements: result.measurements,
      ratios: [
        `${NODES.nodes} nodes: ${NODES.executions}/${NODES.executions} correct, none lost, in ${formatNumber(result.wallS)} s = ${formatNumber(result.perSecond)} executions/s; ${result.forwarded} requests forwarded`,
      ],
      targets: [],
    };
  },
};

/** Every case, in running order. */
export const DURABILITY_CASES: DurabilityCase[] = [resume, overhead, profile, eviction, nodes];
