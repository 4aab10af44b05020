import { existsSync } from "node:fs";
import { cacheDirectoryPath } from "../sandbox/cache-directory.js";
import { ensureMemorySnapshot } from "../sandbox/memory-snapshot.js";
import { installSandboxNode, SANDBOX_NODE_VERSION, sandboxNodeInstallable } from "../sandbox/sandbox-node.js";
import { codeCachePathOf, degradedIsolation, resolveSandboxRuntime } from "../sandbox/sandbox-runtime.js";

/**
 * Installs the pinned sandbox Node into ptc's cache (`PTC_CACHE_DIR`, else the user's cache folder) and
 * builds the Pyodide memory snapshot, so the first run is fast. Exits 1 when this platform has a pinned
 * Node and it could not be installed: without it ptc refuses to start sandboxes here.
 */
export async function setupCommand(): Promise<number> {
  const log = (line: string) => process.stderr.write(`ptc setup: ${line}\n`);
  log(
    `cache: ${cacheDirectoryPath()}${process.env.PTC_CACHE_DIR ? " (PTC_CACHE_DIR)" : " (set PTC_CACHE_DIR to move it)"}`,
  );
  let failed = false;
  try {
    installSandboxNode(log);
  } catch (error) {
    failed = sandboxNodeInstallable();
    log(`could not install sandbox Node ${SANDBOX_NODE_VERSION}: ${error instanceof Error ? error.message : error}`);
  }
  const runtime = resolveSandboxRuntime();
  const degraded = degradedIsolation(runtime);
  if (degraded) {
    log(
      sandboxNodeInstallable()
        ? `sandboxes would run on ${degraded}: ptc run/serve/mcp and createEngine refuse that unless allowed (--allow-degraded-isolation)`
        : `sandboxes would run on ${degraded}: ptc runs with it and warns (set PTC_SANDBOX_NODE to a Node >= 25 for the full isolation)`,
    );
  }
  const snapshot = await ensureMemorySnapshot(runtime);
  if (!snapshot) log("memory snapshot unavailable; sandboxes will start cold");
  else if (existsSync(codeCachePathOf(snapshot))) log(`memory snapshot and code cache ready (${snapshot})`);
  else log(`memory snapshot ready, without a code cache (${snapshot})`);
  log(`isolation: ${runtime.isolation.level}, node ${runtime.nodeVersion}`);
  return failed ? 1 : 0;
}
