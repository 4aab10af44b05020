// `npm run bench:durability`: what issue 13's durable `ptc serve` costs and buys. Resume after a restart by
// replay (SQLite and PostgreSQL), the per-call and per-execution cost of the write-ahead into each store,
// where that cost goes, idle containers per GiB with and without eviction, and three nodes on one
// PostgreSQL. `--json` also prints the results as JSON; `--case resume` (or overhead, profile, eviction,
// nodes; comma-separated) runs only those cases, `--stores sqlite` restarts only on that store in the resume
// case. The cases are in durability-cases.ts.
import { createEngine } from "../src/engine/engine.js";
import { DURABILITY_CASES, SQL_STORE_KINDS, type SqlStoreKind } from "./durability-cases.js";
import { benchStores } from "./durability-stores.js";
import { currentLoadAverage, describeMachine, formatMachine } from "./machine.js";
import { formatTable, type TargetCheck } from "./report.js";
import { elapsedMs, formatNumber, type Measurement, shortError } from "./stats.js";

/** The comma-separated values after `flag`, or null when it is absent. */
function listArgument(flag: string): string[] | null {
  const at = process.argv.indexOf(flag);
  if (at < 0) return null;
  return (process.argv[at + 1] ?? "").split(",").filter((each) => each.length > 0);
}

function selectedCases() {
  const keys = listArgument("--case");
  if (keys === null) return DURABILITY_CASES;
  const unknown = keys.filter((key) => !DURABILITY_CASES.some((each) => each.key === key));
  if (unknown.length > 0 || keys.length === 0) {
    throw new Error(`--case takes ${DURABILITY_CASES.map((each) => each.key).join(", ")}; got ${keys.join(",")}`);
  }
  return DURABILITY_CASES.filter((each) => keys.includes(each.key));
}

function selectedSqlStores(): readonly SqlStoreKind[] {
  const kinds = listArgument("--stores");
  if (kinds === null) return SQL_STORE_KINDS;
  const chosen = SQL_STORE_KINDS.filter((kind) => kinds.includes(kind));
  if (chosen.length === 0 || chosen.length !== kinds.length) {
    throw new Error(`--stores takes ${SQL_STORE_KINDS.join(", ")}; got ${kinds.join(",")}`);
  }
  return chosen;
}

async function main(): Promise<void> {
  const cases = selectedCases();
  const sqlStores = selectedSqlStores();
  const started = performance.now();
  const loadAverage = currentLoadAverage();
  const probe = createEngine({ pool: { size: 0 } });
  const machine = describeMachine(probe, loadAverage);
  await probe.close();
  const stores = await benchStores();
  const measurements: Measurement[] = [];
  const ratios: string[] = [];
  const targets: TargetCheck[] = [];
  try {
    for (const each of cases) {
      process.stderr.write(`· ${each.name}\n`);
      const result = await each.run(stores, { sqlStores });
      measurements.push(...result.measurements);
      ratios.push(...result.ratios);
      targets.push(...result.targets);
    }
  } finally {
    await stores.close();
  }
  const durationS = elapsedMs(started) / 1000;
  console.log(`${formatMachine(machine)}\nstores:    ${stores.settings}\n`);
  console.log(formatTable(measurements));
  console.log(["", "ratios (medians, same run):", ...ratios.map((line) => `  ${line}`)].join("\n"));
  const lines = targets.map(
    (each) =>
      `  ${each.met ? "MET   " : "MISSED"} ${each.label}: ${formatNumber(each.value)} ${each.unit} (target ≤ ${formatNumber(each.limit)} ${each.unit})`,
  );
  console.log(["", "targets (issue 13):", ...lines].join("\n"));
  console.log(`\nbench took ${durationS.toFixed(0)} s; load average ${currentLoadAverage().toFixed(2)} at the end`);
  if (process.argv.includes("--json")) {
    console.log(
      JSON.stringify({ machine, stores: stores.settings, measurements, ratios, targets, durationS }, null, 2),
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${shortError(error)}`);
    process.exit(1);
  },
);
