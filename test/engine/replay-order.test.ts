import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { argsSha256, type JournaledCall } from "../../src/engine/replay.js";
import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import type { JsonValue } from "../../src/protocol/json-schema.js";
import { codeTool, testEngine } from "../helpers/engine.js";

// A replay hands a recorded reply over inside the guest's drain when nothing else can wake the script
// (guest.py `_drain`, child.ts `takeReply`), else through the idle detection after a turn of the event loop.
// Either way the script must see its replies in the recorded order, and what else woke it (an awaited JS
// promise, timers) where it did originally.
let handled = 0;
const lookup = codeTool("lookup", (input) => {
  handled++;
  const q = (input as { q: JsonValue }).q;
  return { q };
});
const engine = testEngine({ pool: { size: 2 }, tools: [lookup] });
after(() => engine.close());

/** Calls to lookup with q = 0, 1, ... in guest order; `completion` lists the q's in the order their results came. */
function journal(count: number, completion: readonly number[] = [...Array(count).keys()]): JournaledCall[] {
  return Array.from({ length: count }, (_, q) => ({
    tool: "lookup",
    argsSha256: argsSha256({ q }),
    outcome: { ok: true, value: { q } },
    completedOrder: completion.indexOf(q) + 1,
  }));
}

let containers = 0;
/** Rebuilds a container from one finished execution, then prints `expression` there. */
async function replayed(code: string, calls: JournaledCall[], expression: string): Promise<string> {
  const id = `order-${++containers}`;
  await engine.restoreContainer(id, { seed: 1, executions: [{ code, calls }] });
  const result = await engine.execute({ code: `print(${expression})`, container: id }).result;
  assert.equal(result.error, null);
  return result.stdout.trim();
}

/** The same script run live, its calls answered by the handler: what the replay must reproduce. */
async function live(code: string, expression: string): Promise<string> {
  const id = `live-${++containers}`;
  engine.containers.reopen(id, { seed: 1 });
  const first = await engine.execute({ code, container: id }).result;
  assert.equal(first.error, null);
  const result = await engine.execute({ code: `print(${expression})`, container: id }).result;
  return result.stdout.trim();
}

describe("replay: recorded replies in their recorded order", () => {
  test("asyncio.gather sees the recorded completion order", async () => {
    const code = `
import asyncio
order = []
async def one(i):
    r = await lookup(q=i)
    order.append(r["q"])
await asyncio.gather(*(one(i) for i in range(5)))
`;
    const before = handled;
    assert.equal(await replayed(code, journal(5, [3, 1, 4, 0, 2]), "order"), "[3, 1, 4, 0, 2]");
    assert.equal(handled, before, "no handler ran");
  });

  test("asyncio.as_completed and asyncio.wait see it too", async () => {
    const code = `
import asyncio
seen = []
first_four = [asyncio.ensure_future(lookup(q=i)) for i in range(4)]
for f in asyncio.as_completed(first_four):
    seen.append((await f)["q"])
tasks = [asyncio.ensure_future(lookup(q=i)) for i in range(4, 7)]
done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
first = [t.result()["q"] for t in done]
await asyncio.gather(*pending)
`;
    const completion = [2, 0, 3, 1, 5, 6, 4];
    assert.equal(await replayed(code, journal(7, completion), "seen, first"), "[2, 0, 3, 1] [5]");
  });

  test("3,000 sequential calls replay and rebuild the same state", async () => {
    const code = "total = 0\nfor i in range(3000):\n    total += (await lookup(q=i))['q']";
    const calls = journal(3_000);
    const id = "order-long";
    const rebuilt = engine.restoreContainer(id, {
      seed: 1,
      executions: [{ code, calls, limits: { maxToolCalls: 3_010 } }],
    });
    const report = await rebuilt;
    const result = await engine.execute({ code: "print(total)", container: id }).result;
    assert.equal(result.stdout, `${(2_999 * 3_000) / 2}\n`);
    process.stdout.write(`# 3,000 journaled calls replayed in ${report.runMs.toFixed(0)} ms\n`);
  });

  test("an awaited JS promise resolves where it did originally", async () => {
    // It resolves from a microtask; the replies came from the host after it. A reply handed over inside the
    // drain would overtake it: reaching js.Promise turns that off.
    const code = `
import asyncio, js
seen = []
async def from_js():
    await js.Promise.resolve(1)
    seen.append("js")
async def from_tool(q):
    await lookup(q=q)
    seen.append(f"tool {q}")
await asyncio.gather(from_tool(0), from_js(), from_tool(1))
`;
    const original = await live(code, "seen");
    assert.equal(await replayed(code, journal(2), "seen"), original);
  });

  test("timers and wait_for keep their place among replies", async () => {
    const code = `
import asyncio
seen = []
async def ticker():
    for n in range(3):
        await asyncio.sleep(0.001)
        seen.append(f"tick {n}")
async def calls():
    for q in range(20):
        r = await asyncio.wait_for(lookup(q=q), 30)
        seen.append(r["q"])
await asyncio.gather(calls(), ticker())
`;
    const replay = await replayed(code, journal(20), "[x for x in seen if isinstance(x, int)]");
    assert.equal(replay, `[${[...Array(20).keys()].join(", ")}]`);
  });

  test("a divergence deep in a long replay is still caught, with nothing dispatched", async () => {
    const before = handled;
    const code = "for i in range(200):\n    await lookup(q=i if i != 150 else -1)";
    await assert.rejects(
      engine.restoreContainer("order-diverged", {
        seed: 1,
        owner: "tester",
        executions: [{ code, calls: journal(200) }],
      }),
      (error: unknown) => {
        assert.ok(error instanceof PtcError, String(error));
        assert.equal(error.code, ErrorCode.ReplayDiverged);
        assert.match(error.message, /call 151 \(lookup\) has other arguments/);
        return true;
      },
    );
    assert.equal(handled, before);
  });
});
