import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isAlive } from "../adversarial/harness.js";
import { recyclingHarness } from "../helpers/recycling.js";

const harness = recyclingHarness();

describe("one-off executions: recycled sandboxes", () => {
  test("a completed execution's sandbox is reset and serves the next one, which sees none of its state", async () => {
    const first = await harness.fate('import builtins\nsecret = 1\nbuiltins.leak = "x"\nprint("ok")');
    assert.equal(first.result.status, "completed");
    assert.equal(first.recycled, true);
    const pid = await harness.nextSandbox();
    const next = await harness.engine.execute({
      code: 'import builtins\nprint("secret" in globals(), hasattr(builtins, "leak"))',
    }).result;
    assert.equal(next.stdout, "False False\n");
    assert.ok(isAlive(pid));
  });

  test("cancelling an execution after its result does not kill the sandbox it gave back", async () => {
    const pid = await harness.nextSandbox();
    const execution = harness.engine.execute({ code: "print('done')" });
    assert.equal((await execution.result).status, "completed");
    execution.cancel();
    await harness.engine.warmUp();
    assert.ok(isAlive(pid), "the recycled sandbox lives on");
    assert.equal((await harness.engine.execute({ code: "print(2)" }).result).stdout, "2\n");
  });

  test("an execution that raised (a guest exception, no limit) is recycled too", async () => {
    const { result, recycled } = await harness.fate("raise ValueError('no')");
    assert.equal(result.status, "failed");
    assert.equal(result.error?.type, "ValueError");
    assert.equal(recycled, true);
  });
});
