import { ensureMemorySnapshot } from "../sandbox/memory-snapshot.js";
import { installSandboxNode, SANDBOX_NODE_VERSION } from "../sandbox/sandbox-node.js";
import { resolveSandboxRuntime } from "../sandbox/sandbox-runtime.js";

/** Installs the pinned sandbox Node and builds the Pyodide memory snapshot, so the first run is fast. */
export async function setupCommand(): Promise<number> {
  const log = (line: string) => process.stderr.write(`ptc setup: ${line}\n`);
  try {
    installSandboxNode(log);
  } catch (error) {
    log(`could not install sandbox Node ${SANDBOX_NODE_VERSION}: ${error instanceof Error ? error.message : error}`);
    log("sandboxes will run on this process's Node, with the weaker isolation `ptc doctor` reports");
  }
  const runtime = resolveSandboxRuntime();
  const snapshot = await ensureMemorySnapshot(runtime);
  log(snapshot ? `memory snapshot ready (${snapshot})` : "memory snapshot unavailable; sandboxes will start cold");
  log(`isolation: ${runtime.isolation.level}, node ${runtime.nodeVersion}`);
  return 0;
}
