import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { DEFAULT_MEMORY_BYTES } from "../src/protocol/limits.js";
import { ensureMemorySnapshot } from "../src/sandbox/memory-snapshot.js";

import {
  type ChildFrameSink,
  decodeChildFrame,
  encodeResultFrame,
  encodeRunFrame,
  MAX_ERROR_REPORT_CHARS,
  MAX_TOOL_NAME_CHARS,
} from "../src/sandbox/pyodide/bridge.js";
import { LineSplitter } from "../src/sandbox/pyodide/line-splitter.js";
import { SandboxProcess } from "../src/sandbox/sandbox-process.js";
import {
  resolveSandboxRuntime,
  SANDBOX_ENV,
  type SandboxRuntime,
  sandboxCommand,
} from "../src/sandbox/sandbox-runtime.js";
import { MAX_TOOL_INPUT_DEPTH } from "../src/tools/input-guard.js";
import { runAnsweringNoop } from "./bare-sandbox.js";
import { formatSummary, summarizeProfile } from "./cpu-profile-summary.js";
import { benchEngine, check, gatheredCalls, sequentialCalls } from "./engine-cases.js";
import { inProcessOnSandboxNode } from "./in-process-baseline.js";
import { processTree } from "./proc-tree.js";
import { median } from "./stats.js";

/**
 * Issue 14's profiles (BENCHMARKS.md, "Where the time goes"). Not part of `npm run bench`:
 *   node --import tsx bench/profile-call.ts child     the sandbox child under --cpu-prof, driven by hand
 *   node --cpu-prof --cpu-prof-interval=50 --cpu-prof-dir=D --import tsx bench/profile-call.ts host
 *   node --import tsx bench/profile-call.ts start     cold start: steps inside the child, spawn, bubblewrap
 *   node --import tsx bench/profile-call.ts memory    a warm sandbox's memory, by process and mapping
 *   node --import tsx bench/profile-call.ts calls [bare]   unprofiled A/B figures of the call path: the bare
 *        child's CPU per call and a bare SandboxProcess's gather of 1,000; unless `bare`, the engine's
 *        sequential calls and gather of 1,000, and in-process Pyodide on the sandbox's Node
 * The child is run without bubblewrap (its /tmp is private, so the profile could not come out) and,
 * for the step marks and memoryUsage(), from a scratch copy of src/sandbox/pyodide patched here.
 */
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const CALLS = 20_000;
// PROFILE_LANGUAGE=javascript: the child and host modes run the JavaScript guest's loop instead.
const LANGUAGE = process.env.PROFILE_LANGUAGE === "javascript" ? "javascript" : "python";
const LOOP =
  LANGUAGE === "javascript"
    ? "for (let i = 0; i < CALLS; i++) await tools.noop({ x: i });"
    : "for i in range(CALLS):\n    await noop(x=i)";
// PROFILE_SCRIPT=gather: the child mode profiles gathers of 1,000 calls instead (CALLS calls in all).
const GATHERS =
  "import asyncio\nfor _ in range(CALLS // 1000):\n    await asyncio.gather(*[noop(x=i) for i in range(1000)])";
const SCRIPT = process.env.PROFILE_SCRIPT === "gather" && LANGUAGE === "python" ? GATHERS : LOOP;
// The permission model also governs the profiler (the inspector) and its file.
// Sampling every 50 µs slows the child ~3x (and mostly inflates syscalls); 200 µs, ~1.3x.
const INTERVAL_US = Number(process.env.PROFILE_INTERVAL_US ?? 200);
const PROFILE_FLAGS = (dir: string) => [
  "--cpu-prof",
  `--cpu-prof-dir=${dir}`,
  `--cpu-prof-interval=${INTERVAL_US}`,
  "--allow-inspector",
  `--allow-fs-write=${dir}/`,
];

/**
 * A copy of the child's folder whose child.ts (or the compiled child.js the runtime starts) records when each
 * start-up step ends and its memory. A folder of its own per run: other checkouts may profile at once.
 */
function scratchChild(runtime: SandboxRuntime): SandboxRuntime {
  const dir = mkdtempSync(join(tmpdir(), "ptc-prof-child-"));
  cpSync(join(runtime.childScript, ".."), dir, { recursive: true });
  const extension = extname(runtime.childScript);
  const patchFile = (name: string, patches: Array<[anchor: string, before: string]>) => {
    const path = join(dir, name.replace(/\.ts$/, extension));
    let source = readFileSync(path, "utf8");
    for (const [anchor, before] of patches) {
      // Matched whatever the indentation (tsc's output indents by 4) and inserted at the start of its line.
      const pattern = anchor
        .trim()
        .replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
        .replace(/\s+/g, "\\s+");
      const found = new RegExp(pattern).exec(source);
      if (!found) throw new Error(`${name} changed: no ${JSON.stringify(anchor)}`);
      const lineStart = source.lastIndexOf("\n", found.index) + 1;
      source = `${source.slice(0, lineStart)}${before}${source.slice(lineStart)}`;
    }
    writeFileSync(path, source);
  };
  // child-instance.ts builds the instance; it marks through the global the patched child.ts sets.
  patchFile("child-instance.ts", [
    [
      "    const snapshot = options.snapshotPath ? openSnapshot",
      '    globalThis.__mark?.("until the first instance (hardening, binding shim)");\n',
    ],
    ["    pyodide = await keepingWasmModule(", '    globalThis.__mark?.("read the snapshot");\n'],
    ["  return loadPyodide({", '  globalThis.__mark?.("import pyodide.mjs");\n'],
    [
      "    await pyodide.runPythonAsync(PRELOAD);\n  } finally",
      '    globalThis.__mark?.("loadPyodide: compile + instantiate wasm, restore memory");\n    globalThis.__wasm = () => pyodide._module?.HEAP8?.buffer?.byteLength ?? -1;\n',
    ],
    ["  pyodide.setStdout(", '  globalThis.__mark?.("PRELOAD imports");\n'],
    ["  const starter = pyodide.globals.get", '  globalThis.__mark?.("guest.py, lockdown");\n'],
  ]);
  patchFile("child.ts", [
    [
      "\nconst hostIn = process.stdin;",
      `\nimport { getHeapSpaceStatistics as __spaces } from "node:v8";
const __proc = process;
const __marks = [["child.ts evaluated (node start-up, module loading)", performance.now()]];
const __mark = (label) => __marks.push([label, performance.now()]);
globalThis.__mark = __mark;`,
    ],
    ["wakeups.forgetPromises();\n// The realm", '__mark("warm-up workload");\n'],
    [
      "send(encodeReadyFrame(jspi, round(performance.now() - started)",
      `__proc.stderr.write("PROF " + JSON.stringify({ marks: __marks, memory: __proc.memoryUsage(),
  spaces: __spaces().map((s) => [s.space_name, s.space_used_size, s.physical_space_size]), wasmBytes: globalThis.__wasm?.() }) + "\\n");\n`,
    ],
  ]);
  return { ...runtime, childScript: join(dir, `child${extension}`), bubblewrapPath: null };
}

interface Driven {
  child: ChildProcessWithoutNullStreams;
  spawnedUs: number;
  ready: Promise<number>;
  /** Runs LOOP with `calls` calls, replying at once (like bench's bareBridge); resolves with the window. */
  loop(calls: number): Promise<{ fromUs: number; toUs: number }>;
  stderr(): string;
  end(): Promise<void>;
}

/** The child spoken to frame by frame, with extra Node flags (a profile). */
function drive(runtime: SandboxRuntime, snapshot: string | null, extraFlags: string[]): Driven {
  const { command, args } = sandboxCommand(runtime, DEFAULT_MEMORY_BYTES, { path: snapshot });
  const spawnedUs = nowUs();
  const child = spawn(command, [...extraFlags, ...args], {
    env: { ...SANDBOX_ENV },
    stdio: ["pipe", "pipe", "pipe"],
    cwd: "/",
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr += chunk;
  });
  let onReady: (us: number) => void = () => {};
  const ready = new Promise<number>((resolve) => {
    onReady = resolve;
  });
  let onDone: () => void = () => {};
  let firstCallUs = 0;
  let replies = "";
  const flush = () => {
    child.stdin.write(replies);
    replies = "";
  };
  const sink: ChildFrameSink = {
    ready: () => onReady(nowUs()),
    // Results of one turn go out in one write, as SandboxProcess writes them.
    call: (callId, _name, inputJson) => {
      if (firstCallUs === 0) firstCallUs = nowUs();
      if (replies === "") setImmediate(flush);
      replies += `${encodeResultFrame(callId, true, String((JSON.parse(inputJson) as { x: number }).x))}\n`;
    },
    output: () => {},
    truncated: () => {},
    idle: () => {},
    busy: () => {},
    cancel: () => {},
    done: (error) => {
      if (error) throw new Error(`run failed: ${JSON.stringify(error).slice(0, 300)}`);
      onDone();
    },
    fault: (fault, line) => {
      throw new Error(`fault ${fault}: ${line.slice(0, 200)}`);
    },
  };
  const splitter = new LineSplitter(
    (line) => decodeChildFrame(line, sink),
    () => {},
  );
  splitter.maxLineLength = 1 << 26;
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => splitter.push(chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    spawnedUs,
    ready,
    stderr: () => stderr,
    loop: async (calls) => {
      firstCallUs = 0;
      const done = new Promise<void>((resolve) => {
        onDone = resolve;
      });
      const frame = encodeRunFrame({
        code: SCRIPT.replace("CALLS", String(calls)),
        language: LANGUAGE,
        tools: JSON.stringify([{ name: "noop", pythonName: "noop" }]),
        resultMode: "json",
        caps: {
          maxOutputBytes: 1_048_576,
          memoryBytes: DEFAULT_MEMORY_BYTES,
          maxToolInputBytes: 1_048_576,
          maxToolCalls: 0,
          maxToolNameChars: MAX_TOOL_NAME_CHARS,
          maxInputDepth: MAX_TOOL_INPUT_DEPTH,
          errorReportChars: MAX_ERROR_REPORT_CHARS,
        },
      });
      child.stdin.write(`${frame}\n`);
      await done;
      return { fromUs: firstCallUs, toUs: nowUs() };
    },
    // The child exits (and writes its profile) when its stdin ends.
    end: () => {
      child.stdin.end();
      return exited;
    },
  };
}

/**
 * CPU (ms) of each thread of a process, by thread name and id: user and system from /proc's stat
 * (10 ms ticks, sampled), and the scheduler's exact run time (schedstat, ns), which a ping-pong of
 * ~100 µs slices needs: tick sampling misattributes them.
 */
function threadCpuMs(pid: number): Map<string, { user: number; system: number; run: number; queued: number }> {
  const threads = new Map<string, { user: number; system: number; run: number; queued: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // schedstat: ns on a CPU, ns runnable but waiting for one, timeslices.
    const [run, queued] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
    threads.set(`${name} ${tid}`, {
      user: Number(fields[11]) * 10,
      system: Number(fields[12]) * 10,
      run: (run ?? 0) / 1e6,
      queued: (queued ?? 0) / 1e6,
    });
  }
  return threads;
}

/** CPU (ms, schedstat) all threads of these processes have run. */
function ranMs(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + [...threadCpuMs(pid).values()].reduce((all, each) => all + each.run, 0), 0);
}

function newestProfile(dir: string): string {
  const files = readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error(`no profile in ${dir}`);
  return join(dir, files.sort().at(-1) ?? "");
}

/** The bare child (no bubblewrap) answering a loop of sequential calls at once: wall and CPU per call by thread. */
async function bareChild(runtime: SandboxRuntime, snapshot: string | null, repeats: number): Promise<void> {
  const plain = drive(runtime, snapshot, []);
  await plain.ready;
  await plain.loop(2_000);
  for (let r = 0; r < repeats; r++) {
    const threads0 = threadCpuMs(plain.child.pid ?? 0);
    const unprofiled = await plain.loop(CALLS);
    const threads1 = threadCpuMs(plain.child.pid ?? 0);
    console.log(
      `unprofiled: ${((unprofiled.toUs - unprofiled.fromUs) / CALLS).toFixed(1)} µs per call; CPU per call by thread:`,
    );
    for (const [name, before] of threads0) {
      const { user, system, run, queued } = threads1.get(name) ?? before;
      const perCall = (a: number, b: number) => (((a - b) * 1000) / CALLS).toFixed(1);
      if (run > before.run + 1)
        console.log(
          `    ${name}: ran ${perCall(run, before.run)} µs, runnable waiting for a CPU ${perCall(queued, before.queued)} µs (schedstat); ticks: user ${perCall(user, before.user)}, system ${perCall(system, before.system)}`,
        );
    }
  }
  await plain.end();
}

/** The child's side of one call: its CPU profile during a loop of sequential calls answered at once. */
async function childSide(): Promise<void> {
  const runtime = { ...resolveSandboxRuntime(), bubblewrapPath: null };
  const snapshot = await ensureMemorySnapshot(runtime);
  const dir = join(tmpdir(), "ptc-prof-out-child");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  await bareChild(runtime, snapshot, 1);
  const driven = drive(runtime, snapshot, PROFILE_FLAGS(dir));
  await driven.ready;
  await driven.loop(2_000);
  const window = await driven.loop(CALLS);
  await driven.end();
  const wallUs = (window.toUs - window.fromUs) / CALLS;
  console.log(`child side: ${CALLS} calls, ${wallUs.toFixed(1)} µs per call (wall, host replying at once)`);
  console.log(`WINDOW ${window.fromUs} ${window.toUs} ${newestProfile(dir)}`);
  console.log(formatSummary(summarizeProfile(newestProfile(dir), window.fromUs, window.toUs), CALLS, 30));
}

/** The host's side: this process runs the engine (profiled by the --cpu-prof it was started with). */
async function hostSide(): Promise<void> {
  const engine = benchEngine(1);
  try {
    const container = "profile";
    const limits = { maxToolCalls: CALLS * 2 };
    check(
      await engine.execute({ code: LOOP.replace("CALLS", "2000"), language: LANGUAGE, container, limits }).result,
      "warm-up",
    );
    const tree = processTree(engine.inspectContainer(container)?.sandboxPid ?? 0);
    const [host0, sandbox0, main0] = [ranMs([process.pid]), ranMs(tree), threadCpuMs(process.pid)];
    const fromUs = nowUs();
    check(
      await engine.execute({ code: LOOP.replace("CALLS", String(CALLS)), language: LANGUAGE, container, limits })
        .result,
      "loop",
    );
    const toUs = nowUs();
    const [host1, sandbox1, main1] = [ranMs([process.pid]), ranMs(tree), threadCpuMs(process.pid)];
    const perCall = (ms: number) => ((ms * 1000) / CALLS).toFixed(1);
    console.log(
      `host side: ${CALLS} calls, ${((toUs - fromUs) / CALLS).toFixed(1)} µs per call (wall); CPU per call (schedstat): host ${perCall(host1 - host0)} µs, sandbox tree ${perCall(sandbox1 - sandbox0)} µs`,
    );
    for (const [name, before] of main0) {
      const after = main1.get(name);
      if (after && after.run > before.run + 1)
        console.log(
          `    host thread ${name}: ran ${perCall(after.run - before.run)} µs, runnable waiting ${perCall(after.queued - before.queued)} µs`,
        );
    }
    console.log(`WINDOW ${fromUs} ${toUs}`);
  } finally {
    await engine.close();
  }
}

interface ProfMarks {
  marks: Array<[string, number]>;
  memory: Record<string, number>;
  spaces: Array<[string, number, number]>;
  wasmBytes: number;
}

function profMarks(stderr: string): ProfMarks {
  const line = stderr.split("\n").find((each) => each.startsWith("PROF "));
  if (!line) throw new Error(`no PROF line: ${stderr.slice(0, 500)}`);
  return JSON.parse(line.slice(5)) as ProfMarks;
}

const ms = (us: number) => (us / 1000).toFixed(1);

/** A cold start: the steps inside the child (scratch marks), what bubblewrap adds, Node's own start-up. */
async function coldStart(): Promise<void> {
  const base = resolveSandboxRuntime();
  const snapshot = await ensureMemorySnapshot(base);
  const scratch = scratchChild(base);
  const starts = 5;
  const rows = new Map<string, number[]>();
  const push = (label: string, value: number) => rows.set(label, [...(rows.get(label) ?? []), value]);
  for (let i = 0; i < starts; i++) {
    const driven = drive(scratch, snapshot, []);
    const readyUs = await driven.ready;
    const marks = profMarks(driven.stderr()).marks;
    let previous = 0;
    for (const [label, at] of marks) {
      push(label, at - previous);
      previous = at;
    }
    // The child's clock starts with its process: the rest is spawn() itself and the ready frame's trip.
    push(
      "spawn() until the child's clock starts, plus the ready frame's trip",
      (readyUs - driven.spawnedUs) / 1000 - previous,
    );
    push("TOTAL spawn -> ready, no bubblewrap, scratch child", (readyUs - driven.spawnedUs) / 1000);
    await driven.end();
  }
  for (const [label, samples] of rows) console.log(`${median(samples).toFixed(1).padStart(8)} ms  ${label}`);
  for (const [label, runtime] of [
    ["with bubblewrap", base],
    ["without bubblewrap", { ...base, bubblewrapPath: null }],
  ] as const) {
    const samples: number[] = [];
    for (let i = 0; i < starts; i++) {
      const started = performance.now();
      const sandbox = new SandboxProcess(runtime, DEFAULT_MEMORY_BYTES, snapshot);
      await sandbox.ready;
      samples.push(performance.now() - started);
      sandbox.kill();
      await sandbox.exited;
    }
    console.log(`${median(samples).toFixed(1).padStart(8)} ms  SandboxProcess spawn -> ready, ${label}`);
  }
  const { command, args } = sandboxCommand(base, DEFAULT_MEMORY_BYTES, { path: snapshot });
  const nodeAt = args.indexOf(base.nodePath);
  const flags = args.slice(nodeAt + 1, args.indexOf(base.childScript));
  for (const [label, cmd, argv] of [
    ["node -e 0 with the sandbox's flags", base.nodePath, [...flags, "-e", "0"]],
    ["bwrap + node -e 0 with the sandbox's flags", command, [...args.slice(0, nodeAt + 1), ...flags, "-e", "0"]],
    ["bwrap + /usr/bin/true", command, [...args.slice(0, nodeAt), "/usr/bin/true"]],
  ] as const) {
    const samples: number[] = [];
    for (let i = 0; i < starts; i++) {
      const started = performance.now();
      execFileSync(cmd, argv, { env: {}, stdio: "ignore", cwd: "/" });
      samples.push(performance.now() - started);
    }
    console.log(`${median(samples).toFixed(1).padStart(8)} ms  ${label}`);
  }
  const readStart = performance.now();
  const bytes = readFileSync(snapshot ?? "").length;
  console.log(
    `${(performance.now() - readStart).toFixed(1).padStart(8)} ms  readFileSync of the snapshot (${(bytes / 1048576).toFixed(1)} MiB, page cache warm) in this process`,
  );
  // One start under the profiler, for what the steps are made of.
  const dir = join(tmpdir(), "ptc-prof-out-start");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const driven = drive(scratch, snapshot, PROFILE_FLAGS(dir));
  const readyUs = await driven.ready;
  await driven.end();
  const path = newestProfile(dir);
  const summary = summarizeProfile(path, 0, readyUs);
  console.log(
    `profiled start: spawn -> ready ${ms(readyUs - driven.spawnedUs)} ms; profiler started ${ms(summary.startTime - driven.spawnedUs)} ms after spawn`,
  );
  console.log(formatSummary(summary, 1, 30).replaceAll(" µs ", " µs "));
}

function smapsGroups(pid: number): Map<string, { rss: number; pss: number; size: number; count: number }> {
  const groups = new Map<string, { rss: number; pss: number; size: number; count: number }>();
  let key = "";
  let size = 0;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      size = (Number.parseInt(header[2] ?? "0", 16) - Number.parseInt(header[1] ?? "0", 16)) / 1024;
      const [perms, name] = [header[3] ?? "", header[4] ?? ""];
      key = name
        ? name.replace(/^.*\//, "")
        : size >= 1024 * 1024
          ? "anonymous, >= 1 GiB reservation (wasm memory)"
          : size >= 16 * 1024
            ? `anonymous ${perms} mapping of ${(size / 1024).toFixed(0)} MiB`
            : perms.includes("x")
              ? "anonymous executable (JIT code: V8 code space, wasm code)"
              : "anonymous, smaller (V8 heap pages, malloc arenas, stacks)";
      const group = groups.get(key) ?? { rss: 0, pss: 0, size: 0, count: 0 };
      group.size += size;
      group.count++;
      groups.set(key, group);
      continue;
    }
    const field = /^(Rss|Pss):\s+(\d+) kB/.exec(line);
    const group = groups.get(key);
    if (field && group) {
      if (field[1] === "Rss") group.rss += Number(field[2]);
      else group.pss += Number(field[2]);
    }
  }
  return groups;
}

/** A warm sandbox's memory: each process of its tree, the node child's mappings, and what V8 reports. */
async function memory(): Promise<void> {
  const base = resolveSandboxRuntime();
  const snapshot = await ensureMemorySnapshot(base);
  const sandbox = new SandboxProcess(base, DEFAULT_MEMORY_BYTES, snapshot);
  try {
    await sandbox.ready;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const pid of processTree(sandbox.pid ?? 0)) {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const get = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1] ?? 0);
      const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      console.log(
        `pid ${pid} ${comm}: RSS ${(get("Rss") / 1024).toFixed(1)} MiB, PSS ${(get("Pss") / 1024).toFixed(1)}, anon ${(get("Anonymous") / 1024).toFixed(1)}, shared clean ${(get("Shared_Clean") / 1024).toFixed(1)}, private dirty ${(get("Private_Dirty") / 1024).toFixed(1)}`,
      );
      if (!comm.startsWith("node")) continue;
      const groups = [...smapsGroups(pid).entries()].sort((a, b) => b[1].pss - a[1].pss).slice(0, 16);
      for (const [name, group] of groups) {
        console.log(
          `    PSS ${(group.pss / 1024).toFixed(1).padStart(6)} MiB  RSS ${(group.rss / 1024).toFixed(1).padStart(6)}  mapped ${(group.size / 1024).toFixed(0).padStart(7)} MiB in ${group.count}  ${name}`,
        );
      }
    }
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
  // What V8 itself reports, from the scratch child (no bubblewrap) at the moment it reports ready.
  const scratch = scratchChild(base);
  const driven = drive(scratch, snapshot, []);
  await driven.ready;
  const report = profMarks(driven.stderr());
  await driven.end();
  rmSync(join(scratch.childScript, ".."), { recursive: true, force: true });
  const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
  console.log(
    `process.memoryUsage(): ${Object.entries(report.memory)
      .map(([key, value]) => `${key} ${mib(value)}`)
      .join(", ")}; wasm memory (HEAP8) ${mib(report.wasmBytes)}`,
  );
  for (const [name, used, physical] of report.spaces) {
    if (physical > 0) console.log(`    ${name}: used ${mib(used)}, physical ${mib(physical)}`);
  }
}

const GATHER =
  "import asyncio\nr = await asyncio.gather(*[noop(x=i) for i in range(CALLS)])\nassert r == list(range(CALLS))";

/** A gather of `calls` against a bare SandboxProcess answering at once: wall and CPU (host, sandbox tree) per gather. */
async function bareGather(runtime: SandboxRuntime, snapshot: string | null, calls: number, repeats: number) {
  const sandbox = new SandboxProcess(runtime, DEFAULT_MEMORY_BYTES, snapshot);
  try {
    await sandbox.ready;
    const rows: string[] = [];
    for (let r = 0; r <= repeats; r++) {
      const tree = processTree(sandbox.pid ?? 0);
      const [host0, child0] = [ranMs([process.pid]), ranMs(tree)];
      const started = performance.now();
      await runAnsweringNoop(sandbox, GATHER.replaceAll("CALLS", String(calls)));
      const wall = performance.now() - started;
      const [host, child] = [ranMs([process.pid]) - host0, ranMs(tree) - child0];
      if (r > 0) rows.push(`${wall.toFixed(1)} ms (CPU host ${host.toFixed(1)}, sandbox ${child.toFixed(1)})`);
    }
    console.log(`bare SandboxProcess, gather of ${calls}: ${rows.join("; ")}`);
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
}

/** Unprofiled figures to compare a change with: run before and after it, in the same conditions. */
async function callFigures(): Promise<void> {
  const runtime = resolveSandboxRuntime();
  const snapshot = await ensureMemorySnapshot(runtime);
  await bareChild({ ...runtime, bubblewrapPath: null }, snapshot, 3);
  await bareGather(runtime, snapshot, 1_000, 5);
  if (process.argv[3] === "bare") return;
  const engine = benchEngine(1);
  try {
    for (const row of [...(await sequentialCalls(engine, CALLS / 4, 3)), ...(await gatheredCalls(engine, 1_000, 5))]) {
      console.log(`${row.label}: median ${row.median.toFixed(1)} ${row.unit}${row.note ? ` (${row.note})` : ""}`);
    }
  } finally {
    await engine.close();
  }
  for (const row of await inProcessOnSandboxNode(runtime, CALLS / 4, 1_000, 3)) {
    console.log(`${row.label}: median ${row.median.toFixed(1)} ${row.unit}${row.note ? ` (${row.note})` : ""}`);
  }
}

const mode = process.argv[2];
if (mode === "child") await childSide();
else if (mode === "host") await hostSide();
else if (mode === "start") await coldStart();
else if (mode === "memory") await memory();
else if (mode === "calls") await callFigures();
else if (mode === "perf-child") {
  // For \`perf record -p <pid>\` from outside: prints the child's pid, then loops for PERF_SECONDS.
  const runtime = resolveSandboxRuntime();
  const driven = drive({ ...runtime, bubblewrapPath: null }, await ensureMemorySnapshot(runtime), [
    "--perf-basic-prof",
  ]);
  await driven.ready;
  await driven.loop(2_000);
  console.log(`PID ${driven.child.pid}`);
  const until = performance.now() + Number(process.env.PERF_SECONDS ?? 12) * 1000;
  while (performance.now() < until) await driven.loop(CALLS);
  await driven.end();
} else if (mode === "bare-child") {
  // PROFILE_CHILD_DIR: another copy of src/sandbox/pyodide or of its compiled dist/ folder (e.g. a commit's,
  // for an A/B in one run), started from its own snapshot.
  const runtime = resolveSandboxRuntime();
  const dir = process.env.PROFILE_CHILD_DIR;
  const script = dir && existsSync(join(dir, "child.js")) ? "child.js" : "child.ts";
  const child = dir ? { ...runtime, childScript: join(dir, script) } : runtime;
  await bareChild(
    { ...child, bubblewrapPath: null },
    await ensureMemorySnapshot(child),
    Number(process.env.REPEATS ?? 3),
  );
} else throw new Error("usage: profile-call.ts child|host|start|memory|calls|bare-child");
