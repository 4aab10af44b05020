import assert from "node:assert/strict";
import { test } from "node:test";
import { TableSlots } from "../../src/sandbox/pyodide/child-table-slots.js";

// The host's TypeScript has no DOM lib, so no WebAssembly types: the part used here.
type Table = { readonly length: number; get(index: number): unknown; grow(delta: number): number };
const WebAssembly = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
    };
  }
).WebAssembly;

// Three functions returning 0, 1, 2 and a table of 5 slots holding a, b, a, c (a in two slots, the last empty),
// as a module's element segment fills its table; exports a, b, c and the table t.
// biome-ignore format: one wasm section a line
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,
  0x03, 0x04, 0x03, 0x00, 0x00, 0x00,
  0x04, 0x04, 0x01, 0x70, 0x00, 0x05,
  0x07, 0x11, 0x04, 0x01, 0x61, 0x00, 0x00, 0x01, 0x62, 0x00, 0x01, 0x01, 0x63, 0x00, 0x02, 0x01, 0x74, 0x01, 0x00,
  0x09, 0x0a, 0x01, 0x00, 0x41, 0x00, 0x0b, 0x04, 0x00, 0x01, 0x00, 0x02,
  0x0a, 0x10, 0x03, 0x04, 0x00, 0x41, 0x00, 0x0b, 0x04, 0x00, 0x41, 0x01, 0x0b, 0x04, 0x00, 0x41, 0x02, 0x0b,
]);
const module = new WebAssembly.Module(MODULE);
const instance = () => new WebAssembly.Instance(module, {}).exports as { a: unknown; b: unknown; c: unknown; t: Table };
/** Emscripten's scan (`updateTableMap`): each slot's function into the mirror, and slot by function, the last wins. */
function scan(table: Table): { mirror: unknown[]; slots: Map<unknown, number> } {
  const mirror: unknown[] = [];
  const slots = new Map<unknown, number>();
  for (let slot = 0; slot < table.length; slot++) {
    mirror[slot] = table.get(slot);
    if (mirror[slot]) slots.set(mirror[slot], slot);
  }
  return { mirror, slots };
}

test("a later instance's functions are found in the slots the first one's scan found, each checked", () => {
  const slots = new TableSlots();
  const first = instance();
  assert.equal(slots.begin(first.t), false, "nothing known before a scan");
  const { mirror } = scan(first.t);
  slots.learn(first.t, mirror);

  const second = instance();
  assert.equal(slots.begin(second.t), true);
  // As the scan answers for that instance: a in slots 0 and 2 (2, the later), b in 1, c in 3.
  assert.equal(slots.find(second.a, second.t), 2);
  assert.equal(slots.find(second.b, second.t), 1);
  assert.equal(slots.find(second.c, second.t), 3);
  // The same as a scan of this instance's own table.
  const scanned = scan(second.t).slots;
  const functions = [second.a, second.b, second.c];
  assert.deepEqual(
    functions.map((func) => slots.find(func, second.t)),
    functions.map((func) => scanned.get(func)),
  );
  // A JS function is in no slot (one added to the table is in Emscripten's own map, asked first).
  assert.equal(
    slots.find(() => 1, second.t),
    0,
  );
  assert.equal(slots.scanning(), true, "this build answered from the slots until now");
  assert.equal(slots.scanning(), false, "once per build");
  assert.equal(slots.find(second.a, second.t), undefined, "after a scan the build's own map answers");
});

test("an answer the slots cannot vouch for is left to a scan: another instance's function, a slot since changed, another table", () => {
  const slots = new TableSlots();
  const first = instance();
  slots.learn(first.t, scan(first.t).mirror);
  const second = instance();
  assert.equal(slots.begin(second.t), true);
  // The first instance's `a` has the same name ("0") as the second's: its slot holds the second's.
  assert.equal(slots.find(first.a, second.t), undefined);
  // A function named like an index.
  const named = Object.defineProperty(() => 0, "name", { value: "1" });
  assert.equal(slots.find(named, second.t), undefined);
  // A name from an accessor: looked up, and the slot holds another function.
  const accessor = Object.defineProperty(() => 0, "name", { get: () => "0" });
  assert.equal(slots.find(accessor, second.t), undefined);
  // A proxy (a PyProxy's traps would run Python): never asked for its name.
  const proxy = new Proxy(() => 0, {
    get: () => assert.fail("a trap ran"),
    getOwnPropertyDescriptor: () => assert.fail("a trap ran"),
  });
  assert.equal(slots.find(proxy, second.t), undefined);

  // A table of another length (grown before the first lookup): not the table that was scanned.
  const third = instance();
  third.t.grow(1);
  assert.equal(slots.begin(third.t), false);
  assert.equal(slots.find(third.b, third.t), undefined);
  // Learning happens once: the first build's scan stays the reference.
  slots.learn(third.t, scan(third.t).mirror);
  assert.equal(slots.begin(instance().t), true);
});

test("a scan that found anything but wasm functions named by their index teaches nothing: every build scans", () => {
  const slots = new TableSlots();
  const first = instance();
  const { mirror } = scan(first.t);
  mirror[1] = Object.defineProperty(() => 0, "name", { value: "not an index" });
  slots.learn(first.t, mirror);
  const second = instance();
  assert.equal(slots.begin(second.t), false);
  assert.equal(slots.find(second.b, second.t), undefined);
});
