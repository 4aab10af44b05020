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

import { isProxy } from "node:util/types";
import { isSafeInteger } from "./child-intrinsics.ts";

type Table = { readonly length: number; get(index: number): unknown };

const { apply } = Reflect;
const tableGet = (
  (globalThis as unknown as { WebAssembly: { Table: { prototype: Table } } }).WebAssembly.Table.prototype as Table
).get;
const tableLength = Reflect.getOwnPropertyDescriptor(
  (globalThis as unknown as { WebAssembly: { Table: { prototype: object } } }).WebAssembly.Table.prototype,
  "length",
)?.get as (this: Table) => number;
/** Slots are kept as slot + 1 by function index (0: in no slot); this, for an index two functions had. */
const AMBIGUOUS = -1;
/** Function indices past this are not learned (Pyodide's module has ~20,000 functions). */
const MAX_INDEX = 1 << 22;
const Slots = Int32Array;

/** A wasm function's index from V8's name for it (the index as a string); -1 for any other name. */
function indexOf(name: unknown): number {
  if (typeof name !== "string" || name === "" || name.length > 8) return -1;
  const index = +name;
  return isSafeInteger(index) && index >= 0 && index < MAX_INDEX && `${index}` === name ? index : -1;
}

/**
 * The name V8 gives `func`: its index for a wasm function; another function's name; undefined for a proxy (a
 * PyProxy's traps would run Python) or anything else. Only functions this child made reach here: no guest code
 * can make a JS function but through a proxy.
 */
function nameOf(func: unknown): unknown {
  if (typeof func !== "function" || isProxy(func)) return undefined;
  return (func as { name?: unknown }).name;
}

export class TableSlots {
  /** Slot + 1 by function index, from the first build's scan; null before it, or if a slot held anything else. */
  #slots: Int32Array | null = null;
  #learned = false;
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
    if (this.#learned) return;
    this.#learned = true;
    const length = apply(tableLength, table, []);
    const indices = new Slots(length);
    let largest = -1;
    for (let slot = 0; slot < length; slot++) {
      const func = mirror[slot];
      // The table's own functions: wasm functions (a table holds no proxy), named by their index.
      if (func === undefined || func === null) continue;
      const index = typeof func === "function" ? indexOf((func as { name?: unknown }).name) : -1;
      if (index < 0) return;
      indices[slot] = index;
      if (index > largest) largest = index;
    }
    const slots = new Slots(largest + 1);
    for (let slot = 0; slot < length; slot++) {
      const func = mirror[slot];
      if (func === undefined || func === null) continue;
      const index = indices[slot] as number;
      const seen = slots[index] as number;
      // Another slot of the same function: the later one, as the scan's map keeps. Another function: a scan.
      slots[index] = seen === 0 || (seen > 0 && mirror[seen - 1] === func) ? slot + 1 : AMBIGUOUS;
    }
    this.#slots = slots;
    this.#length = length;
  }

  /**
   * `func`'s slot as the scan would find it, for a function not added to the table since (those are in
   * Emscripten's map): 0 for none; undefined when not known here (then `scanning`).
   */
  find(func: unknown, table: Table): number | undefined {
    const slots = this.#slots;
    if (!this.#active || slots === null) return undefined;
    const name = nameOf(func);
    if (name === undefined) return undefined;
    const index = indexOf(name);
    // Not a wasm function's name: a function of JS, in no slot of the table (the map has those added).
    if (index < 0) return 0;
    const kept = index < slots.length ? (slots[index] as number) : 0;
    if (kept === AMBIGUOUS) return undefined;
    // No slot held a function of this index at the scan: this one is in none (added since, the map has it).
    if (kept === 0) return 0;
    return apply(tableGet, table, [kept - 1]) === func ? kept - 1 : undefined;
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
