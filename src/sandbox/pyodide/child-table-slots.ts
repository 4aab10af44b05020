// Where each wasm function sits in a new instance's table, as the first build of the process found it. Part of
// the child: erasable syntax and node: builtins only, intrinsics captured when this module loads, before any
// guest code runs; it is called only by Pyodide's linking (child-pyodide-js.ts patches `getFunctionAddress`).
//
// Emscripten links each new instance's GOT to table slots: `getFunctionAddress(func)`, at its first call in an
// instance, reads every slot of the table (`updateTableMap`: ~9,000 `table.get`s, each making a JS function
// object for its wasm function, all kept in `wasmTableMirror` for the instance's life) to map functions to
// slots, and then answers each of the ~8,000 GOT function entries from that map: ~7 ms of a reset, and ~2 MB
// more for every full GC to mark. The table is the module's own (its length and element segments), so at that
// first call every instance's table holds the same function in the same slot, and V8 names a wasm function by
// its index. The first build's scan is kept here as name -> slot (the highest slot, as the scan's map keeps),
// and later builds answer from it, each answer checked: the slot must hold that very function
// (`table.get(slot) === func`, no new object for an exported function), else the build scans as Emscripten
// does. A function no slot held at the scan and not added since (`functionsInTableMap` has those) is in no slot.

type Table = { readonly length: number; get(index: number): unknown };

const { apply } = Reflect;
const tableGet = (
  (globalThis as unknown as { WebAssembly: { Table: { prototype: Table } } }).WebAssembly.Table.prototype as Table
).get;
const tableLength = Reflect.getOwnPropertyDescriptor(
  (globalThis as unknown as { WebAssembly: { Table: { prototype: object } } }).WebAssembly.Table.prototype,
  "length",
)?.get as (this: Table) => number;
const Slots = Map;
const getSlot = Map.prototype.get;
const setSlot = Map.prototype.set;
/** A name two different functions had at the scan: answered by a scan. */
const AMBIGUOUS = -1;

/** The name V8 gives `func`: its index for a wasm function; another function's name, or undefined. */
function nameOf(func: unknown): unknown {
  if (typeof func !== "function") return undefined;
  const descriptor = Reflect.getOwnPropertyDescriptor(func, "name");
  return descriptor !== undefined && "value" in descriptor ? descriptor.value : undefined;
}

export class TableSlots {
  /** Slot by function name, from the first build's scan; null before it. */
  #slots: Map<unknown, number> | null = null;
  /** The table's length at that scan. */
  #length = -1;
  /** Whether this build answers from the slots (it has not scanned its table). */
  #active = false;

  /** A build's first lookup: true when its table can be answered from the slots (no scan needed). */
  begin(table: Table): boolean {
    this.#active = this.#slots !== null && apply(tableLength, table, []) === this.#length;
    return this.#active;
  }

  /** After a build's scan (`mirror`: the table's functions by slot): the first one's is kept. */
  learn(table: Table, mirror: ArrayLike<unknown>): void {
    if (this.#slots !== null) return;
    const length = apply(tableLength, table, []);
    const slots = new Slots<unknown, number>();
    for (let slot = 0; slot < length; slot++) {
      const func = mirror[slot];
      if (typeof func !== "function") continue;
      const name = nameOf(func);
      if (name === undefined) continue;
      const seen = apply(getSlot, slots, [name]) as number | undefined;
      // Another slot of the same function: the later one, as the scan's map keeps. Another function: a scan.
      const same = seen === undefined || seen === AMBIGUOUS ? false : mirror[seen] === func;
      apply(setSlot, slots, [name, seen === undefined || same ? slot : AMBIGUOUS]);
    }
    this.#slots = slots;
    this.#length = length;
  }

  /**
   * `func`'s slot as the scan would find it, for a function not added to the table since (those are in
   * Emscripten's map): 0 for none; undefined when not known here (then `scanning`).
   */
  find(func: unknown, table: Table): number | undefined {
    if (!this.#active || this.#slots === null) return undefined;
    const name = nameOf(func);
    const slot = name === undefined ? undefined : (apply(getSlot, this.#slots, [name]) as number | undefined);
    if (slot === undefined) return name === undefined ? undefined : 0;
    if (slot === AMBIGUOUS) return undefined;
    return apply(tableGet, table, [slot]) === func ? slot : undefined;
  }

  /** True once per build that answered from the slots and now cannot: the caller scans the table. */
  scanning(): boolean {
    const was = this.#active;
    this.#active = false;
    return was;
  }
}

/** The process's table slots, handed to Pyodide's module (child-pyodide-js.ts). */
export const tableSlots = new TableSlots();
