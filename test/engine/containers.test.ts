import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { codeTool, delay, testEngine } from "../helpers/engine.js";

const engine = testEngine({ pool: { size: 1 }, containerIdleTimeoutMs: 400 });
after(() => engine.close());

describe("containers: idle expiry", () => {
  test("an idle container expires and its sandbox is killed; a busy one does not", async () => {
    await engine.execute({ code: "kept = 1", container: "idle" }).result;
    const pid = engine.inspectContainer("idle")?.sandboxPid;
    assert.ok(pid);
    const wait = codeTool("wait");
    const busy = engine.execute({ code: "print(await wait())", container: "busy", tools: [wait] });
    let callId = "";
    for await (const event of busy) {
      if (event.type === "tool-call") {
        callId = event.call.id;
        break;
      }
    }
    await delay(1_500);
    assert.equal(engine.hasContainer("idle"), false);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    assert.equal(engine.hasContainer("busy"), true);
    busy.submitToolResult(callId, { value: "still here" });
    assert.equal((await busy.result).stdout, "still here\n");
    // An expired id starts a fresh container, and says so by not having the old globals.
    const again = await engine.execute({ code: "print('kept' in globals())", container: "idle" }).result;
    assert.equal(again.stdout, "False\n");
  });
});
