import assert from "node:assert/strict";
import { test } from "node:test";
import { ensureMemorySnapshot } from "../../src/sandbox/memory-snapshot.js";
import { SandboxPool } from "../../src/sandbox/sandbox-pool.js";
import { runPython } from "../helpers/sandbox-runs.js";

// How the child builds a Pyodide instance (src/sandbox/pyodide/child-instance.ts), in real sandboxes.

test("guest.py comes compiled in the snapshot, and no script sees its code object, after a reset either", async () => {
  const pool = new SandboxPool({ size: 1 });
  try {
    // On the snapshot's path: the pool starts from one (a cold start compiles guest.py itself). A build from a
    // snapshot runs its `_ptc_guest` or fails: without it in the snapshot this sandbox would not start.
    assert.notEqual(await ensureMemorySnapshot(pool.runtime), null);
    await pool.warmUp();
    const sandbox = await pool.acquire();
    const probe = () =>
      runPython(
        sandbox,
        "import __main__\nprint(sorted(n for n in ('_ptc_guest', '_ptc_code', '_ptc_source') if hasattr(__main__, n)), callable(__main__._ptc_run))",
      );
    // guest.py ran (its functions are there) and what carried it is gone.
    assert.equal(await probe(), "[] True\n");
    await sandbox.reset();
    assert.equal(await probe(), "[] True\n");
    sandbox.kill();
  } finally {
    await pool.close();
  }
});
