import { readFileSync } from "node:fs";

/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) and attributes its samples, inside a time window, to
 * the file (or the V8 pseudo-frame: idle, GC, program) of the frame on top of the stack (self time)
 * and to every file anywhere on the stack (inclusive time). The window is in µs of the monotonic
 * clock, which V8's profile timestamps and `process.hrtime` share on Linux.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  windowUs: number;
  /** µs of self time per category (file or pseudo-frame), largest first. */
  self: Array<[string, number]>;
  /** µs with the category anywhere on the stack. */
  inclusive: Array<[string, number]>;
  /** µs of self time per function (`name (category:line)`), largest first. */
  functions: Array<[string, number]>;
  /** µs with the function anywhere on the stack. */
  functionsInclusive: Array<[string, number]>;
  startTime: number;
  endTime: number;
}

/** What a frame's URL says about where the time went. */
export function category(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : `native ${functionName || "(anonymous)"}`;
  if (url.startsWith("wasm://")) return "pyodide wasm (CPython and its C)";
  if (url.endsWith("pyodide.asm.js")) return "pyodide.asm.js (Emscripten glue, JS<->Python FFI)";
  if (url.endsWith("pyodide.mjs") || url.endsWith("pyodide.js")) return "pyodide.mjs (loader)";
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  const bench = url.indexOf("/bench/");
  if (bench >= 0) return url.slice(bench + 1);
  const modules = url.lastIndexOf("/node_modules/");
  if (modules >= 0) return `node_modules/${url.slice(modules + 14).split("/")[0]}`;
  if (url.startsWith("node:internal/")) return url.split("/").slice(0, 3).join("/");
  return url;
}

function functionKey(frame: ProfileNode["callFrame"]): string {
  const name = frame.functionName || "(anonymous)";
  return `${name} (${category(frame.url, frame.functionName)}:${frame.lineNumber + 1})`;
}

export function summarizeProfile(path: string, fromUs = 0, toUs = Number.POSITIVE_INFINITY): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const functions = new Map<string, number>();
  const functionsInclusive = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let time = profile.startTime;
  let windowUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    time += profile.timeDeltas[i] ?? 0;
    // A sample stands for the interval until the next one.
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (time < fromUs || time >= toUs) continue;
    windowUs += us;
    const top = byId.get(profile.samples[i] ?? -1);
    if (!top) continue;
    const topCategory = category(top.callFrame.url, top.callFrame.functionName);
    add(self, topCategory, us);
    add(functions, functionKey(top.callFrame), us);
    const seen = new Set<string>();
    const seenFunctions = new Set<string>();
    for (let id: number | undefined = top.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame) continue;
      seen.add(category(frame.url, frame.functionName));
      seenFunctions.add(functionKey(frame));
    }
    for (const each of seen) add(inclusive, each, us);
    for (const each of seenFunctions) add(functionsInclusive, each, us);
  }
  const sorted = (map: Map<string, number>) => [...map.entries()].sort((a, b) => b[1] - a[1]);
  return {
    windowUs,
    self: sorted(self),
    inclusive: sorted(inclusive),
    functions: sorted(functions),
    functionsInclusive: sorted(functionsInclusive),
    startTime: profile.startTime,
    endTime: profile.endTime,
  };
}

/** A printable table: µs per operation (the window divided by `operations`) and share of the window. */
export function formatSummary(summary: ProfileSummary, operations: number, top = 25): string {
  const line = ([key, us]: [string, number]) =>
    `${(us / operations).toFixed(2).padStart(10)} µs  ${((100 * us) / summary.windowUs).toFixed(1).padStart(5)}%  ${key}`;
  return [
    `window ${(summary.windowUs / 1000).toFixed(1)} ms, ${operations} operations, ${(summary.windowUs / operations).toFixed(2)} µs each`,
    "self time by file:",
    ...summary.self.slice(0, top).map(line),
    "inclusive time by file:",
    ...summary.inclusive.slice(0, top).map(line),
    "self time by function:",
    ...summary.functions.slice(0, top).map(line),
    "inclusive time by function:",
    ...summary.functionsInclusive.slice(0, top * 2).map(line),
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [path, operations, from, to] = process.argv.slice(2);
  if (!path) throw new Error("usage: cpu-profile-summary.ts <file.cpuprofile> [operations] [fromUs] [toUs]");
  const summary = summarizeProfile(path, Number(from ?? 0), to ? Number(to) : Number.POSITIVE_INFINITY);
  console.log(formatSummary(summary, Number(operations ?? 1)));
}
