import { fileURLToPath } from "node:url";
import { createEngine } from "../engine/engine.js";
import { parseArguments } from "./arguments.js";
import { ISOLATION_PROBE_SCRIPT, parseProbeOutput } from "./isolation-probes.js";

/** Reports the runtime, the isolation actually in force, and a live pool check. */
export async function doctorCommand(argv: readonly string[]): Promise<number> {
  const { flags } = parseArguments(argv, [], ["json"]);
  const engine = createEngine({ pool: { size: 1 } });
  const started = performance.now();
  try {
    await engine.warmUp();
    const coldStartMs = performance.now() - started;
    const execution = engine.execute({ code: "import sys\nprint(sys.version.split()[0])" });
    const result = await execution.result;
    const hostFile = fileURLToPath(import.meta.url);
    const probeRun = await engine.execute({
      code: ISOLATION_PROBE_SCRIPT.replace("HOST_FILE", JSON.stringify(hostFile)),
    }).result;
    const probes = parseProbeOutput(probeRun.stdout);
    const report = {
      host: { node: process.version, platform: `${process.platform}-${process.arch}` },
      isolation: engine.isolation,
      python: result.stdout.trim(),
      pool: { ...engine.stats().pool, coldStartMs: Math.round(coldStartMs) },
      check: result.status === "completed" ? "ok" : `failed: ${result.error?.message}`,
      probes,
    };
    if (flags.has("json")) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const iso = report.isolation;
      process.stdout.write(
        [
          `ptc doctor`,
          `  host node        ${report.host.node} (${report.host.platform})`,
          `  sandbox          ${iso.runtime}, Python ${report.python}, node ${iso.nodeVersion}`,
          `  isolation        ${iso.level}`,
          `  bubblewrap       ${iso.bubblewrap ? "yes (fresh user, pid, mount, network namespaces)" : "no"}`,
          `  network blocked  ${iso.networkBlocked ? "yes" : "NO"}`,
          `  filesystem       ${iso.filesystem}`,
          `  code from strings disabled; asyncio.run: ${iso.stackSwitching ? "yes" : "no (no stack switching)"}`,
          ...iso.notes.map((note) => `  note: ${note}`),
          `  pool             cold start ${report.pool.coldStartMs} ms, warm ${report.pool.warm}, starting ${report.pool.starting}`,
          `  check            ${report.check}`,
          `  live probes      ${Object.entries(probes)
            .map(([name, state]) => `${name}: ${state}`)
            .join(", ")}`,
          "",
        ].join("\n"),
      );
    }
    const open = Object.values(probes).includes("OPEN");
    return result.status === "completed" && !open ? 0 : 1;
  } finally {
    await engine.close();
  }
}
