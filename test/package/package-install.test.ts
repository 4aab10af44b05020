import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { findSandboxNode } from "../../src/sandbox/sandbox-node.js";
import { collectOutput } from "../helpers/cli.js";

/**
 * `npm install ptc` as a project would: the package packed by `npm pack` (with the checkout's dist/, below),
 * installed into a fresh ESM project from the tarball, type-checked against with `skipLibCheck: false`, and
 * its CLI run. The optional peer dependencies (better-sqlite3, tsx) are not installed there, so this also
 * shows the library and the CLI work without them and say what to install when a feature needs one.
 */

const repository = fileURLToPath(new URL("../..", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "ptc-package-"));
const project = join(root, "project");

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for the nested npm and ptc: none of the outer `npm test`'s npm_* settings or test-runner state. */
function cleanEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === "INIT_CWD" || key === "NODE_TEST_CONTEXT" || key === "NODE_OPTIONS") continue;
    environment[key] = value;
  }
  return { ...environment, ...extra };
}

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  environment = cleanEnvironment(),
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: environment, stdio: ["ignore", "pipe", "pipe"] });
    const output = collectOutput(child);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout: output.stdout(), stderr: output.stderr() }));
  });
}

/** npm itself: the one running `npm test` when there is one, else the one on PATH. */
function npm(args: readonly string[], cwd: string, environment?: NodeJS.ProcessEnv): Promise<Outcome> {
  const cli = process.env.npm_execpath;
  return cli?.endsWith(".js")
    ? run(process.execPath, [cli, ...args], cwd, environment)
    : run("npm", args, cwd, environment);
}

function succeeded(outcome: Outcome, what: string): Outcome {
  assert.equal(outcome.code, 0, `${what} failed (exit ${outcome.code}):\n${outcome.stdout}\n${outcome.stderr}`);
  return outcome;
}

/**
 * A copy of the checkout's files (those git tracks or would, as they are now) and of its dist/, sharing its
 * node_modules, to pack with `--ignore-scripts`: `prepack` would rebuild dist/ (~15 s of CPU on a suite that
 * is CPU-bound) from the same sources by the same script (scripts/build.mjs) that built the checkout's dist/
 * when `npm ci` ran `postprepare`, the dist/ every sandbox of the suite loads its child from. Packing the
 * checkout itself would not do: the package's `files` come from it, and a pack must not touch it while
 * other test files run. The copy sits in node_modules/.cache; removed after the tests.
 */
function packableCopy(): string {
  const cache = join(repository, "node_modules", ".cache");
  mkdirSync(cache, { recursive: true });
  const copy = mkdtempSync(join(cache, "ptc-package-"));
  after(() => rmSync(copy, { recursive: true, force: true }));
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: repository,
    encoding: "utf8",
  });
  for (const file of files.split("\0")) {
    // A file deleted but not yet committed is still listed.
    if (!file || !existsSync(join(repository, file))) continue;
    mkdirSync(join(copy, dirname(file)), { recursive: true });
    cpSync(join(repository, file), join(copy, file));
  }
  const manifest = JSON.parse(readFileSync(join(repository, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.equal(manifest.scripts.prepack, manifest.scripts.build, "prepack is the build that made dist/");
  assert.ok(existsSync(join(repository, "dist", "index.js")), "no dist/ to pack: run `npm run build` first");
  cpSync(join(repository, "dist"), join(copy, "dist"), { recursive: true });
  symlinkSync(join(repository, "node_modules"), join(copy, "node_modules"));
  return copy;
}

function installedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(repository, "node_modules", name, "package.json"), "utf8"));
  return (manifest as { version: string }).version;
}

/**
 * `npx ptc ...` in the project, on this checkout's sandbox runtime (no second download: `PTC_SANDBOX_NODE`),
 * with a private cache and no memory snapshot (making one would take longer than the one cold start).
 */
function ptc(args: readonly string[]): Promise<Outcome> {
  const sandboxNode = findSandboxNode(); // fetched by this checkout's `npm ci` (`ptc setup`)
  const environment = cleanEnvironment({
    ...(sandboxNode ? { PTC_SANDBOX_NODE: sandboxNode } : {}),
    PTC_CACHE_DIR: join(root, "cache"),
    PTC_SNAPSHOT: "off",
  });
  return npm(["exec", "--no", "--", "ptc", ...args], project, environment);
}

after(() => rmSync(root, { recursive: true, force: true }));

describe("the packed package, installed into a fresh project", () => {
  let packed: { filename: string; files: { path: string }[] };
  let installLog = "";

  before(async () => {
    const pack = succeeded(
      await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", root], packableCopy()),
      "npm pack",
    );
    // Should npm write anything before the JSON (a notice, a script banner), the JSON starts at a line "[".
    const [first] = JSON.parse(pack.stdout.slice(Math.max(0, pack.stdout.search(/^\[/m)))) as (typeof packed)[];
    assert.ok(first, `npm pack gave no package: ${pack.stdout}`);
    packed = first;

    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      `${JSON.stringify({ name: "ptc-consumer", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
    );
    const install = await npm(
      [
        "install",
        join(root, packed.filename),
        `typescript@${installedVersion("typescript")}`,
        `@types/node@${installedVersion("@types/node")}`,
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--no-package-lock",
      ],
      project,
    );
    succeeded(install, "npm install of the tarball");
    installLog = install.stdout + install.stderr;
  });

  it("ships what the docs and the CLI point to, and none of the sources or build scripts", () => {
    const paths = new Set(packed.files.map((file) => file.path));
    for (const path of [
      "LICENSE",
      "README.md",
      "SECURITY.md",
      "BENCHMARKS.md",
      "docs/sandbox.md",
      "bin/ptc.js",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/sandbox/pyodide/guest.py",
      "dist/sandbox/pyodide/guest_calls.py",
      "dist/sandbox/pyodide/guest_loop.py",
      "examples/sales/top-region.py",
    ]) {
      assert.ok(paths.has(path), `${path} is not in the package`);
    }
    for (const path of paths) assert.doesNotMatch(path, /^(src|scripts|test|bench|scratch)\//);
  });

  it("has no install-time scripts and no hard dependency on better-sqlite3 or tsx", () => {
    const manifest = JSON.parse(readFileSync(join(project, "node_modules", "ptc", "package.json"), "utf8")) as {
      scripts?: Record<string, string>;
      dependencies?: Record<string, string>;
    };
    for (const script of ["preinstall", "install", "postinstall", "prepare"]) {
      assert.equal(manifest.scripts?.[script], undefined, `the package has a ${script} script`);
    }
    for (const name of ["better-sqlite3", "tsx", "esbuild"]) {
      assert.equal(manifest.dependencies?.[name], undefined, `${name} is a dependency`);
      assert.throws(() => readFileSync(join(project, "node_modules", name, "package.json")), `${name} was installed`);
    }
    assert.doesNotMatch(installLog, /ptc@[^ ]* \(/, "npm flagged an install script of ptc");
  });

  it("type-checks a consumer of every entry point, strict, with skipLibCheck off", async () => {
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          types: ["node"],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        files: ["consumer.ts"],
      }),
    );
    // Every entry point the package exports, so a new one is checked too, then a few typed uses.
    const manifest = JSON.parse(readFileSync(join(project, "node_modules", "ptc", "package.json"), "utf8")) as {
      exports: Record<string, unknown>;
    };
    const entries = Object.keys(manifest.exports).map((key) => `ptc${key.slice(1)}`);
    assert.ok(entries.includes("ptc/server") && entries.includes("ptc/tools"), entries.join(", "));
    const imports = entries.map((entry, index) => `import * as entry${index} from "${entry}";`);
    writeFileSync(
      join(project, "consumer.ts"),
      `${imports.join("\n")}
import { createEngine, type ToolDefinition } from "ptc";
import { createSalesDatabase, createSampleTools } from "ptc/sample";
import { ToolRegistry } from "ptc/tools";

const add: ToolDefinition = {
  name: "add",
  description: "Adds two integers.",
  inputSchema: { type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } }, required: ["a", "b"] },
  allowedCallers: ["code_execution"],
  handler: (input) => Number(input.a) + Number(input.b),
};
const engine = createEngine({ tools: [add] });
const stubs: string = ToolRegistry.from([add]).pythonStubs();
// The sample's database is typed structurally: no better-sqlite3 types needed to use it.
const sample = (): Promise<void> => createSampleTools({ database: createSalesDatabase() }).close();
export const used = [${entries.map((_, index) => `entry${index}`).join(", ")}, engine, stubs, sample];
`,
    );
    const tsc = await run(process.execPath, [join("node_modules", "typescript", "bin", "tsc"), "-p", "."], project);
    succeeded(tsc, "tsc on the consumer");
  });

  it("imports and runs a script through the installed CLI with a JavaScript tools module", async () => {
    const imported = await run(
      process.execPath,
      ["--input-type=module", "-e", 'const ptc = await import("ptc"); console.log(typeof ptc.createEngine);'],
      project,
    );
    assert.equal(succeeded(imported, 'import("ptc")').stdout, "function\n");
    writeFileSync(
      join(project, "tools.mjs"),
      `export const tools = [
  {
    name: "add",
    description: "Adds two integers.",
    inputSchema: { type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } }, required: ["a", "b"] },
    allowedCallers: ["code_execution"],
    handler: ({ a, b }) => a + b,
  },
];
`,
    );
    writeFileSync(join(project, "script.py"), "print(await add(a=2, b=3))\n");
    const outcome = succeeded(await ptc(["run", "--no-sample", "--tools", "tools.mjs", "script.py"]), "npx ptc run");
    assert.equal(outcome.stdout, "5\n");
  });

  it("says what to install when the sample or a .ts tools module needs an absent peer dependency", async () => {
    const sample = await ptc(["run", "--sample", "script.py"]);
    assert.notEqual(sample.code, 0);
    assert.match(sample.stderr, /^ptc: the built-in sample needs better-sqlite3\b.*: npm install better-sqlite3$/m);
    writeFileSync(join(project, "tools.ts"), "export const tools = [];\n");
    const typescript = await ptc(["run", "--tools", "tools.ts", "script.py"]);
    assert.notEqual(typescript.code, 0);
    assert.match(
      typescript.stderr,
      /^ptc: loading a \.ts tools module needs tsx: npm install tsx \(or compile it to \.js\)$/m,
    );
  });
});
