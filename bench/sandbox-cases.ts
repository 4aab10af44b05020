import { spawn } from "node:child_process";
import { DEFAULT_MEMORY_BYTES } from "../src/protocol/limits.js";
import { ensureMemorySnapshot } from "../src/sandbox/memory-snapshot.js";
import { IDLE_SHRINK_MS } from "../src/sandbox/pyodide/child-heap.js";
import { SandboxPool } from "../src/sandbox/sandbox-pool.js";
import { SandboxProcess } from "../src/sandbox/sandbox-process.js";
import type { SandboxRuntime } from "../src/sandbox/sandbox-runtime.js";
import { cpuPerOperation, treeCpuMs, treeMemoryMiB } from "./proc-tree.js";
import { elapsedMs, type Measurement, median, sleep, summarize } from "./stats.js";

const PASS = { code: "pass", tools: [], resultMode: "json" as const, maxOutputBytes: 1_048_576, memoryBytes: 0 };
const JAVASCRIPT_PASS = { ...PASS, code: "0;", language: "javascript" as const };

async function timeRun(sandbox: SandboxProcess, language: "python" | "javascript" = "python"): Promise<number> {
  const started = performance.now();
  const request = language === "python" ? PASS : JAVASCRIPT_PASS;
  const outcome = await sandbox.run(request, { onToolCall: () => {}, onOutput: () => {} });
  if (outcome.kind !== "done" || outcome.error) throw new Error(`run failed: ${JSON.stringify(outcome).slice(0, 300)}`);
  return elapsedMs(started);
}

/**
 * Spawn until the child reports ready, as the pool does; each sandbox is killed before the next.
 * With the snapshot, also: how long `spawn` blocks this process, and the first and second run of
 * "pass" in the fresh sandbox (what a one-off execution pays on top of a reused container).
 */
export async function coldStarts(
  runtime: SandboxRuntime,
  withSnapshot: number,
  without: number,
): Promise<Measurement[]> {
  const snapshotPath = await ensureMemorySnapshot(runtime);
  const ready: number[] = [];
  const spawnCall: number[] = [];
  const firstRun: number[] = [];
  const secondRun: number[] = [];
  const time = async (path: string | null, runs: boolean): Promise<void> => {
    const started = performance.now();
    const sandbox = new SandboxProcess(runtime, DEFAULT_MEMORY_BYTES, path);
    spawnCall.push(elapsedMs(started));
    await sandbox.ready;
    ready.push(elapsedMs(started));
    if (runs) {
      await sleep(100);
      firstRun.push(await timeRun(sandbox));
      secondRun.push(await timeRun(sandbox));
    }
    sandbox.kill();
    await sandbox.exited;
  };
  const rows: Measurement[] = [];
  if (snapshotPath) {
    for (let i = 0; i < withSnapshot; i++) await time(snapshotPath, true);
    rows.push(
      summarize("coldStartSnapshot", "cold sandbox start, memory snapshot", "ms", ready.splice(0)),
      summarize("spawnCall", "  of which spawn() blocking this process", "ms", spawnCall.splice(0)),
      summarize("firstRun", 'first run of "pass" in a fresh sandbox', "ms", firstRun),
      summarize("secondRun", 'second run of "pass", same sandbox', "ms", secondRun),
    );
  }
  for (let i = 0; i < without; i++) await time(null, false);
  const note = snapshotPath ? undefined : "snapshot unavailable here";
  rows.push(summarize("coldStartNoSnapshot", "cold sandbox start, no snapshot", "ms", ready, note));
  return rows;
}

/**
 * What a pool's recycling costs against a start (issue 14's bursts are bound by it): one sandbox, reset
 * (`SandboxProcess.reset`, a fresh interpreter from the snapshot in the same process) `samples` times, each
 * followed by a run of "pass"; the sandbox's CPU (its whole tree, all threads) per reset and that run, and
 * per cold start including the warm-up's tier-up (read 1 s after ready, once nothing runs).
 */
export async function sandboxResets(runtime: SandboxRuntime, samples: number): Promise<Measurement[]> {
  const snapshotPath = await ensureMemorySnapshot(runtime);
  const sandbox = new SandboxProcess(runtime, DEFAULT_MEMORY_BYTES, snapshotPath);
  await sandbox.ready;
  await sleep(1_000);
  const pid = sandbox.pid as number;
  const startCpu = treeCpuMs(pid);
  await timeRun(sandbox);
  const walls: number[] = [];
  const firstRuns: number[] = [];
  const cpu = cpuPerOperation(pid);
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await sandbox.reset();
    walls.push(elapsedMs(started));
    firstRuns.push(await timeRun(sandbox));
    // What the reset leaves to V8's threads (GC, compiles) is counted before the next.
    await sleep(200);
  }
  const { child } = cpu.stop(samples);
  sandbox.kill();
  await sandbox.exited;
  const note = `mean of ${samples}, with its run of "pass"`;
  return [
    summarize("sandboxReset", "sandbox reset (fresh interpreter, same process), wall", "ms", walls),
    summarize("sandboxResetCpu", "  sandbox CPU per reset", "ms", [child / 1000], note),
    summarize("firstRunAfterReset", 'first run of "pass" after a reset', "ms", firstRuns),
    summarize("sandboxStartCpu", "sandbox CPU per cold start, warm-up included", "ms", [startCpu], "one start"),
  ];
}

/**
 * The JavaScript guest's sandbox start: spawn (from the memory snapshot) until the first run of a trivial
 * script is done, with no pause between, as a one-off pays it when no warm sandbox is left; and the first
 * and second JavaScript run alone (each run instantiates its own QuickJS).
 */
export async function javascriptColdStarts(runtime: SandboxRuntime, samples: number): Promise<Measurement[]> {
  const snapshotPath = await ensureMemorySnapshot(runtime);
  const start: number[] = [];
  const firstRun: number[] = [];
  const secondRun: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    const sandbox = new SandboxProcess(runtime, DEFAULT_MEMORY_BYTES, snapshotPath);
    await sandbox.ready;
    firstRun.push(await timeRun(sandbox, "javascript"));
    start.push(elapsedMs(started));
    secondRun.push(await timeRun(sandbox, "javascript"));
    sandbox.kill();
    await sandbox.exited;
  }
  const note = snapshotPath ? undefined : "snapshot unavailable here";
  return [
    summarize("jsColdStart", "JavaScript guest: sandbox start (spawn to first run done)", "ms", start, note),
    summarize("jsFirstRun", "  of which the first run of a trivial script", "ms", firstRun),
    summarize("jsSecondRun", "JavaScript guest: second run, same sandbox", "ms", secondRun),
  ];
}

// Echoes each line back: the floor for one host↔child round trip, with no Pyodide and no sandbox. "stream"
// reads and writes through process.stdin/stdout in the child's event loop, as a sandbox child does; in
// "blocking" the child does nothing but a blocking readSync and a writeSync (no event loop, no streams); in
// "spinning" it polls a non-blocking read without ever sleeping (pausing process.stdin leaves fd 0
// non-blocking), burning its core while it waits: the lowest wall a child can reach, so the floor of any
// design that crosses once per call. On this VM an idle vCPU halts, and waking it costs more than the work:
// on a quiet machine the blocked child's round trip took ~50 µs and the spinning one's ~24 µs (host CPU
// 24 -> 11 µs); under load, when vCPUs seldom halt, both ~16-19 µs.
const ECHO_CHILD = {
  stream: `process.stdin.setEncoding("utf8");let p="";process.stdin.on("data",(d)=>{p+=d;let i;while((i=p.indexOf("\\n"))>=0){process.stdout.write(p.slice(0,i+1));p=p.slice(i+1);}});`,
  spinning: `const fs=require("node:fs");process.stdin.pause();const b=Buffer.alloc(65536);let p="";for(;;){let n;for(;;){try{n=fs.readSync(0,b,0,b.length,null);break;}catch(e){if(e.code!=="EAGAIN")throw e;}}if(n===0)break;p+=b.toString("utf8",0,n);let i;while((i=p.indexOf("\\n"))>=0){fs.writeSync(1,p.slice(0,i+1));p=p.slice(i+1);}}`,
  blocking: `const fs=require("node:fs");const b=Buffer.alloc(65536);let p="";for(;;){let n;try{n=fs.readSync(0,b,0,b.length,null);}catch(e){if(e.code==="EAGAIN")continue;throw e;}if(n===0)break;p+=b.toString("utf8",0,n);let i;while((i=p.indexOf("\\n"))>=0){fs.writeSync(1,p.slice(0,i+1));p=p.slice(i+1);}}`,
};
const ECHO_ROWS = {
  stream: { key: "pipeRoundTrip", label: "raw pipe round trip", child: "echo child" },
  spinning: {
    key: "pipeSpinningRoundTrip",
    label: "raw pipe round trip, child spinning on a non-blocking read",
    child: "spinning child",
  },
  blocking: {
    key: "pipeBlockingRoundTrip",
    label: "raw pipe round trip, child blocked in readSync",
    child: "blocked child",
  },
};

/** Sequential line round trips between this process and a plain child on the sandbox's Node. */
export async function pipeRoundTrip(
  runtime: SandboxRuntime,
  roundTrips: number,
  repeats: number,
  mode: keyof typeof ECHO_CHILD = "stream",
): Promise<Measurement[]> {
  const child = spawn(runtime.nodePath, ["-e", ECHO_CHILD[mode]], { stdio: ["pipe", "pipe", "ignore"], env: {} });
  child.stdout.setEncoding("utf8");
  const samples: number[] = [];
  const hostCpu: number[] = [];
  const childCpu: number[] = [];
  try {
    for (let r = 0; r < repeats + 1; r++) {
      const cpu = cpuPerOperation(child.pid ?? 0);
      const started = performance.now();
      await new Promise<void>((resolve) => {
        let left = roundTrips;
        let buffered = "";
        const onData = (chunk: string) => {
          buffered += chunk;
          while (buffered.includes("\n")) {
            buffered = buffered.slice(buffered.indexOf("\n") + 1);
            if (--left === 0) {
              child.stdout.off("data", onData);
              resolve();
              return;
            }
            child.stdin.write(`R${left}\t1{"x":${left}}\n`);
          }
        };
        child.stdout.on("data", onData);
        child.stdin.write(`R${left}\t1{"x":${left}}\n`);
      });
      const elapsed = elapsedMs(started);
      const { host, child: echo } = cpu.stop(roundTrips);
      // The first pass warms up the child's JIT and is not counted.
      if (r === 0) continue;
      samples.push((elapsed * 1000) / roundTrips);
      hostCpu.push(host);
      childCpu.push(echo);
    }
  } finally {
    child.kill("SIGKILL");
  }
  const rows = ECHO_ROWS[mode];
  return [
    summarize(rows.key, `${rows.label}, Node ${process.version} ↔ ${runtime.nodeVersion}`, "µs", samples),
    summarize(`${rows.key}HostCpu`, "  host CPU per round trip", "µs", hostCpu),
    summarize(`${rows.key}ChildCpu`, `  ${rows.child} CPU per round trip`, "µs", childCpu),
  ];
}

const LOOP = "for i in range(CALLS):\n    await noop(x=i)";

/**
 * The sequential loop against a bare SandboxProcess whose listener replies at once: the child and
 * pipe cost of a call without the engine's broker (validation, journal, records, events).
 */
export async function bareBridge(runtime: SandboxRuntime, calls: number, repeats: number): Promise<Measurement[]> {
  const sandbox = new SandboxProcess(runtime, DEFAULT_MEMORY_BYTES, await ensureMemorySnapshot(runtime));
  const samples: number[] = [];
  const hostCpu: number[] = [];
  const sandboxCpu: number[] = [];
  try {
    await sandbox.ready;
    for (let r = 0; r < repeats + 1; r++) {
      let answered = 0;
      const cpu = cpuPerOperation(sandbox.pid ?? 0);
      const started = performance.now();
      const outcome = await sandbox.run(
        {
          code: LOOP.replace("CALLS", String(calls)),
          tools: [{ name: "noop", pythonName: "noop" }],
          resultMode: "json",
          maxOutputBytes: 1_048_576,
          memoryBytes: DEFAULT_MEMORY_BYTES,
        },
        {
          onToolCall: (callId, _name, inputJson) => {
            answered++;
            const input = JSON.parse(inputJson) as { x: number };
            sandbox.sendToolResult(callId, true, JSON.stringify(input.x));
          },
          onOutput: () => {},
        },
      );
      if (outcome.kind !== "done" || outcome.error || answered !== calls) {
        throw new Error(`bare bridge run failed: ${JSON.stringify(outcome).slice(0, 300)}`);
      }
      const elapsed = elapsedMs(started);
      const { host, child } = cpu.stop(calls);
      if (r === 0) continue;
      samples.push((elapsed * 1000) / calls);
      hostCpu.push(host);
      sandboxCpu.push(child);
    }
  } finally {
    sandbox.kill();
    await sandbox.exited;
  }
  return [
    summarize("bareBridgeCall", `per call, ${calls} sequential, bare SandboxProcess (no engine)`, "µs", samples),
    summarize("bareHostCpu", "  host CPU per call", "µs", hostCpu),
    summarize("bareSandboxCpu", "  sandbox CPU per call", "µs", sandboxCpu),
  ];
}

/**
 * RSS (and PSS) of each warm sandbox of a pool, summed over its process tree: at rest, once it has idled
 * past IDLE_SHRINK_MS (a new sandbox gives its start-up's heap back then, not before ready), and as read
 * the moment the pool is warm.
 */
export async function warmSandboxMemory(size: number): Promise<Measurement[]> {
  const pool = new SandboxPool({ size });
  try {
    await pool.warmUp();
    const sandboxes: SandboxProcess[] = [];
    for (let i = 0; i < size; i++) sandboxes.push(await pool.acquire());
    const atReady = sandboxes.map((sandbox) => treeMemoryMiB(sandbox.pid ?? 0));
    await sleep(IDLE_SHRINK_MS + 500);
    const trees = sandboxes.map((sandbox) => treeMemoryMiB(sandbox.pid ?? 0));
    const processes = median(trees.map((tree) => tree.processes));
    const note = `${processes} processes per sandbox`;
    return [
      summarize(
        "sandboxRss",
        "memory per warm sandbox, RSS",
        "MiB",
        trees.map((tree) => tree.rss),
        note,
      ),
      summarize(
        "sandboxPss",
        "memory per warm sandbox, PSS",
        "MiB",
        trees.map((tree) => tree.pss),
        note,
      ),
      summarize(
        "sandboxPssAtReady",
        "  the same sandboxes read the moment the pool was warm, PSS",
        "MiB",
        atReady.map((tree) => tree.pss),
        "before their first idle second",
      ),
    ];
  } finally {
    await pool.close();
  }
}
