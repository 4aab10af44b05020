// The JavaScript yardsticks ptc's JavaScript guest is compared with, each run in this process with no
// isolation beyond its own: in-process QuickJS (quickjs-emscripten-core, the release-sync wasm variant, a
// host function returning a promise the host resolves, then executePendingJobs), Vercel's
// @ai-sdk/code-mode (`experimental_runCodeMode`: QuickJS behind the `run` package, a fresh context per run)
// and Executor's QuickJS runtime (@executor-js/runtime-quickjs, `makeQuickJsExecutor`, Effect-based).
// Same workloads as ptc's rows: a trivial script ("start"), N sequential awaited calls of a `noop` tool
// returning its input, one Promise.all of M calls. Self-contained (erasable TS, no local imports) so both
// the host's Node (through tsx) and the sandbox's Node (natively) can run it:
//   node bench/javascript-run.ts quickjs 10000 1000 5
// prints one JSON line (JavaScriptSamples). code-mode and Executor are devDependencies imported by a
// computed specifier, so that a checkout without them still typechecks and the bench says they are absent.
import { pathToFileURL } from "node:url";
import variantExport from "@jitl/quickjs-wasmfile-release-sync";
import {
  newQuickJSWASMModuleFromVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSSyncVariant,
  type QuickJSWASMModule,
} from "quickjs-emscripten-core";

// The package's types describe its CommonJS build (default = module.exports); as ESM it loads index.mjs,
// whose default export is the variant itself.
const variant = ("default" in variantExport ? variantExport.default : variantExport) as QuickJSSyncVariant;

export type JavaScriptYardstick = "quickjs" | "code-mode" | "executor";

export interface JavaScriptSamples {
  runtime: JavaScriptYardstick;
  node: string;
  /** Why nothing was measured (the package is not installed, or it failed), else absent. */
  skipped?: string;
  /** Loading the engine (wasm module, package) and the first trivial run, once. */
  firstRunMs: number;
  /** A trivial script, each run: a fresh context (and for QuickJS the host function installed). */
  startMs: number[];
  perCallUs: number[];
  gatherMs: number[];
  /** What QuickJS allocated for a runtime with one context and the host function (in-process QuickJS only). */
  contextMemoryMiB?: number;
}

/** Runs one script and resolves when it has finished; throws if it failed or returned the wrong value. */
type Runner = (code: string, expected: number) => Promise<void>;

interface Yardstick {
  /** Scripts are the body of an async function: `await`, then `return` a number to check. */
  run: Runner;
  memoryPerContextMiB?: () => number;
}

const START = "return 1";
const sequential = (calls: number) =>
  `let s = 0; for (let i = 0; i < ${calls}; i++) s += await tools.noop({ x: i }); return s;`;
const gather = (calls: number) =>
  `const r = await Promise.all(Array.from({ length: ${calls} }, (_, i) => tools.noop({ x: i }))); return r.length;`;
const sumBelow = (n: number) => (n * (n - 1)) / 2;

// --- in-process QuickJS: the same bridge shape as ptc's guest (JSON text across, parsed on each side) ---

const QUICKJS_PRELUDE = `const tools = { noop: async (args) => JSON.parse(await __call("noop", JSON.stringify(args))) };`;

function newContext(module: QuickJSWASMModule): { runtime: QuickJSRuntime; context: QuickJSContext } {
  const runtime = module.newRuntime();
  const context = runtime.newContext();
  const call = context.newFunction("__call", (_name: QuickJSHandle, inputHandle: QuickJSHandle) => {
    const input = JSON.parse(context.getString(inputHandle)) as { x: number };
    const deferred = context.newPromise();
    // The host answers asynchronously, as a tool handler would; the guest resumes on executePendingJobs.
    void Promise.resolve(input.x).then((value) => {
      const reply = context.newString(JSON.stringify(value));
      deferred.resolve(reply);
      reply.dispose();
      runtime.executePendingJobs();
    });
    return deferred.handle;
  });
  context.setProp(context.global, "__call", call);
  call.dispose();
  return { runtime, context };
}

async function runInContext(runtime: QuickJSRuntime, context: QuickJSContext, code: string): Promise<number> {
  const promise = context.unwrapResult(
    context.evalCode(`${QUICKJS_PRELUDE}\n(async () => {\n${code}\n})()`, "bench.js"),
  );
  const settled = context.resolvePromise(promise);
  promise.dispose();
  runtime.executePendingJobs();
  const value = context.unwrapResult(await settled);
  const result = context.getNumber(value);
  value.dispose();
  return result;
}

async function quickjs(): Promise<Yardstick> {
  const module = await newQuickJSWASMModuleFromVariant(variant);
  return {
    run: async (code, expected) => {
      const { runtime, context } = newContext(module);
      try {
        const result = await runInContext(runtime, context, code);
        if (result !== expected) throw new Error(`returned ${result}, expected ${expected}`);
      } finally {
        context.dispose();
        runtime.dispose();
      }
    },
    // QuickJS's own count of what a runtime with one context (and the host function) has allocated: the wasm
    // memory's resident size says nothing here, as freed blocks of earlier runs are reused.
    memoryPerContextMiB: () => {
      const { runtime, context } = newContext(module);
      const usage = runtime.computeMemoryUsage();
      const { memory_used_size: bytes } = context.dump(usage) as { memory_used_size: number };
      usage.dispose();
      context.dispose();
      runtime.dispose();
      return bytes / 2 ** 20;
    },
  };
}

// --- @ai-sdk/code-mode ---

interface CodeModeModule {
  experimental_runCodeMode(input: {
    js: string;
    tools: Record<string, { description: string; inputSchema: unknown; execute: (input: { x: number }) => unknown }>;
    options: { executionPolicy: Record<string, number> };
  }): Promise<unknown>;
}
interface AiModule {
  jsonSchema(schema: object): unknown;
}

async function importByName<T>(specifier: string): Promise<T> {
  return (await import(specifier)) as T;
}

async function codeMode(calls: number): Promise<Yardstick> {
  const { experimental_runCodeMode: runCodeMode } = await importByName<CodeModeModule>("@ai-sdk/code-mode");
  const { jsonSchema } = await importByName<AiModule>("ai");
  const noop = {
    description: "returns its input x",
    inputSchema: jsonSchema({ type: "object" }),
    execute: ({ x }: { x: number }) => x,
  };
  // Its defaults (256 bridge requests, 32 in flight) would refuse the workloads; ptc's caps are lifted alike.
  const executionPolicy = { timeoutMs: 600_000, maxBridgeRequests: calls * 2, maxInFlightBridgeRequests: calls };
  return {
    run: async (js, expected) => {
      const result = await runCodeMode({ js, tools: { noop }, options: { executionPolicy } });
      if (result !== expected) throw new Error(`returned ${JSON.stringify(result)}, expected ${expected}`);
    },
  };
}

// --- Executor (@executor-js/runtime-quickjs) ---

interface ExecutorModule {
  makeQuickJsExecutor(options: { timeoutMs: number }): {
    execute(code: string, invoker: { invoke(input: { path: string; args: unknown }): unknown }): unknown;
  };
}
interface EffectModule {
  succeed(value: unknown): unknown;
  runPromise(effect: unknown): Promise<{ result: unknown; error?: string }>;
}

async function executor(): Promise<Yardstick> {
  const { makeQuickJsExecutor } = await importByName<ExecutorModule>("@executor-js/runtime-quickjs");
  const Effect = await importByName<EffectModule>("effect/Effect");
  const quickJs = makeQuickJsExecutor({ timeoutMs: 600_000 });
  const invoker = { invoke: ({ args }: { path: string; args: unknown }) => Effect.succeed((args as { x: number }).x) };
  return {
    run: async (code, expected) => {
      const outcome = await Effect.runPromise(quickJs.execute(code, invoker));
      if (outcome.error !== undefined || outcome.result !== expected) {
        throw new Error(`returned ${JSON.stringify(outcome).slice(0, 300)}, expected ${expected}`);
      }
    },
  };
}

export async function measureJavaScript(
  runtime: JavaScriptYardstick,
  calls: number,
  gatherCalls: number,
  repeats: number,
): Promise<JavaScriptSamples> {
  const samples: JavaScriptSamples = {
    runtime,
    node: process.version,
    firstRunMs: 0,
    startMs: [],
    perCallUs: [],
    gatherMs: [],
  };
  const loadStarted = performance.now();
  let yardstick: Yardstick;
  try {
    yardstick =
      runtime === "quickjs" ? await quickjs() : runtime === "code-mode" ? await codeMode(calls) : await executor();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ...samples, skipped: `not measured: ${message.split("\n")[0]?.slice(0, 200)}` };
  }
  await yardstick.run(START, 1);
  samples.firstRunMs = performance.now() - loadStarted;
  const time = async (code: string, expected: number): Promise<number> => {
    const started = performance.now();
    await yardstick.run(code, expected);
    return performance.now() - started;
  };
  for (let i = 0; i < 20; i++) samples.startMs.push(await time(START, 1));
  // Pass 0 of each loop warms up the JIT, as ptc's sandboxes are warmed before timing.
  for (let r = 0; r <= repeats; r++) {
    const ms = await time(sequential(calls), sumBelow(calls));
    if (r > 0) samples.perCallUs.push((ms * 1000) / calls);
  }
  for (let r = 0; r <= repeats; r++) {
    const ms = await time(gather(gatherCalls), gatherCalls);
    if (r > 0) samples.gatherMs.push(ms);
  }
  if (yardstick.memoryPerContextMiB) samples.contextMemoryMiB = yardstick.memoryPerContextMiB();
  return samples;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [runtime, ...counts] = process.argv.slice(2);
  const [calls, gatherCalls, repeats] = counts.map(Number);
  if (runtime !== "quickjs" && runtime !== "code-mode" && runtime !== "executor") {
    throw new Error(`usage: javascript-run.ts quickjs|code-mode|executor [calls] [gather] [repeats]`);
  }
  const samples = await measureJavaScript(runtime, calls ?? 10_000, gatherCalls ?? 1_000, repeats ?? 5);
  process.stdout.write(`${JSON.stringify(samples)}\n`);
  // code-mode keeps worker threads alive between runs.
  process.exit(0);
}
