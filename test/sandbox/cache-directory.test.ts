import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { cacheDirectory, cacheDirectoryPath } from "../../src/sandbox/cache-directory.js";
import { findSandboxNode, SANDBOX_NODE_VERSION } from "../../src/sandbox/sandbox-node.js";

const scratch = mkdtempSync(join(tmpdir(), "ptc-cache-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `body` with these environment variables set (undefined: unset), then puts them back. */
function withEnv<T>(values: Record<string, string | undefined>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(values).map((name) => [name, process.env[name]]));
  const apply = (entries: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(entries)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
  apply(values);
  try {
    return body();
  } finally {
    apply(saved);
  }
}

describe("where ptc's cache lives (sandbox runtime, memory snapshots)", () => {
  test("Linux default: ~/.cache/ptc, outside node_modules so `npm ci` and `rm -rf node_modules` keep it", () => {
    const path = cacheDirectoryPath({ env: {}, platform: "linux", home: "/home/ada" });
    assert.equal(path, "/home/ada/.cache/ptc");
  });

  test("macOS default: ~/Library/Caches/ptc", () => {
    const path = cacheDirectoryPath({ env: {}, platform: "darwin", home: "/Users/ada" });
    assert.equal(path, "/Users/ada/Library/Caches/ptc");
  });

  test("$XDG_CACHE_HOME/ptc when XDG_CACHE_HOME is set (an invalid, relative one is ignored)", () => {
    const env = { XDG_CACHE_HOME: "/var/cache/ada" };
    assert.equal(cacheDirectoryPath({ env, platform: "linux", home: "/home/ada" }), "/var/cache/ada/ptc");
    assert.equal(
      cacheDirectoryPath({ env: { XDG_CACHE_HOME: "relative/cache" }, platform: "linux", home: "/home/ada" }),
      "/home/ada/.cache/ptc",
    );
  });

  test("PTC_CACHE_DIR overrides everything, made absolute", () => {
    const env = { PTC_CACHE_DIR: "/opt/ptc-cache", XDG_CACHE_HOME: "/var/cache/ada" };
    assert.equal(cacheDirectoryPath({ env, platform: "linux", home: "/home/ada" }), "/opt/ptc-cache");
    const relative = cacheDirectoryPath({ env: { PTC_CACHE_DIR: "ptc-cache" }, platform: "linux", home: "/h" });
    assert.equal(relative, join(process.cwd(), "ptc-cache"));
  });

  test("this process's cache follows its environment", () => {
    const xdg = join(scratch, "xdg");
    const path = withEnv({ PTC_CACHE_DIR: undefined, XDG_CACHE_HOME: xdg }, () => cacheDirectoryPath());
    assert.equal(path, join(xdg, "ptc"));
    const explicit = join(scratch, "explicit");
    assert.equal(
      withEnv({ PTC_CACHE_DIR: explicit, XDG_CACHE_HOME: xdg }, () => cacheDirectoryPath()),
      explicit,
    );
  });

  test("created with mode 0700; one other users can write is refused", () => {
    const path = join(scratch, "created", "ptc");
    const made = withEnv({ PTC_CACHE_DIR: path }, () => cacheDirectory());
    assert.equal(made, path);
    assert.equal(statSync(path).mode & 0o777, 0o700);
    chmodSync(path, 0o777);
    assert.throws(() => withEnv({ PTC_CACHE_DIR: path }, () => cacheDirectory()), /writable by other users/);
    chmodSync(path, 0o755);
    assert.equal(
      withEnv({ PTC_CACHE_DIR: path }, () => cacheDirectory()),
      path,
    );
  });

  test("the sandbox Node `ptc setup` installed is found there, and not from a cache others can write", () => {
    const cache = join(scratch, "with-node");
    const bin = join(cache, `node-v${SANDBOX_NODE_VERSION}-${process.platform}-${process.arch}`, "bin");
    mkdirSync(bin, { recursive: true, mode: 0o700 });
    chmodSync(cache, 0o700);
    symlinkSync(process.execPath, join(bin, "node"));
    const env = { PTC_CACHE_DIR: cache, PTC_SANDBOX_NODE: undefined };
    assert.equal(
      withEnv(env, () => findSandboxNode()),
      join(bin, "node"),
    );
    assert.equal(
      withEnv({ ...env, PTC_SANDBOX_NODE: "/opt/node/bin/node" }, () => findSandboxNode()),
      "/opt/node/bin/node",
    );
    chmodSync(cache, 0o777);
    assert.throws(() => withEnv(env, () => findSandboxNode()), /writable by other users/);
    chmodSync(cache, 0o700);
    assert.equal(
      withEnv({ PTC_CACHE_DIR: join(scratch, "empty"), PTC_SANDBOX_NODE: undefined }, () => findSandboxNode()),
      null,
    );
  });
});
