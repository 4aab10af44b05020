import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createEngine } from "../engine/engine.js";
import { cacheDirectoryPath } from "../sandbox/cache-directory.js";
import { resolveSandboxRuntime } from "../sandbox/sandbox-runtime.js";
import { parseArguments } from "./arguments.js";
import { ISOLATION_PROBE_SCRIPT, parseProbeOutput } from "./isolation-probes.js";
import { threatStatement } from "./threat-statement.js";

/** A loopback server the network probe aims at: a request reaching it means the network is open. */
async function probeTarget(): Promise<{ url: string; hits: () => number; close: () => void }> {
  let hits = 0;
  const server = createServer((_request, response) => {
    hits++;
    response.end("reached");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, hits: () => hits, close: () => server.close() };
}

/** Reports the runtime, the isolation actually in force (with live probes), and what it does not cover. */
export async function doctorCommand(argv: readonly string[]): Promise<number> {
  const { flags } = parseArguments(argv, [], ["json"]);
  // doctor reports the isolation in force, degraded or not: it never refuses to look.
  const engine = createEngine({ pool: { size: 1, allowDegradedIsolation: true } });
  const runtime = resolveSandboxRuntime();
  const target = await probeTarget();
  const started = performance.now();
  try {
    await engine.warmUp();
    const coldStartMs = performance.now() - started;
    const execution = engine.execute({ code: "import sys\nprint(sys.version.split()[0])" });
    const result = await execution.result;
    const hostFile = fileURLToPath(import.meta.url);
    const probeRun = await engine.execute({
      code: ISOLATION_PROBE_SCRIPT.replace("HOST_FILE", JSON.stringify(hostFile)).replace(
        "PROBE_URL",
        JSON.stringify(target.url),
      ),
    }).result;
    const probes = parseProbeOutput(probeRun.stdout);
    if (target.hits() > 0) probes.network = "OPEN";
    const statement = threatStatement(engine.isolation);
    const report = {
      host: { node: process.version, platform: `${process.platform}-${process.arch}` },
      isolation: engine.isolation,
      sandboxNode: { path: runtime.nodePath, source: runtime.nodeSource },
      cache: cacheDirectoryPath(),
      python: result.stdout.trim(),
      pool: { ...engine.stats().pool, coldStartMs: Math.round(coldStartMs) },
      check: result.status === "completed" ? "ok" : `failed: ${result.error?.message}`,
      probes,
      security: statement,
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
          `  sandbox node     ${report.sandboxNode.path} (${report.sandboxNode.source})`,
          `  cache            ${report.cache}`,
          `  isolation        ${iso.level}`,
          `  network blocked  ${iso.networkBlocked ? "yes" : "NO"}`,
          `  asyncio.run      ${iso.stackSwitching ? "yes" : "no (no WebAssembly stack switching)"}`,
          ...iso.notes.map((note) => `  note: ${note}`),
          `  pool             cold start ${report.pool.coldStartMs} ms, warm ${report.pool.warm}, starting ${report.pool.starting}`,
          `  check            ${report.check}`,
          `  live probes      ${Object.entries(probes)
            .map(([name, state]) => `${name}: ${state}`)
            .join(", ")}`,
          "",
          "Threat model",
          ...wrap(statement.threatModel, 96).map((line) => `  ${line}`),
          "",
          "Layers on this machine",
          ...statement.layers.map((layer) => `  [${layer.inForce ? "x" : " "}] ${layer.name}: ${layer.detail}`),
          "",
          "Not protected against here",
          ...statement.notProtected.map((item) => `  - ${item}`),
          "",
          `Reporting: ${statement.reporting}`,
          "",
        ].join("\n"),
      );
    }
    const open = Object.values(probes).includes("OPEN");
    return result.status === "completed" && !open ? 0 : 1;
  } finally {
    target.close();
    await engine.close();
  }
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
