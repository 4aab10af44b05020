import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ErrorCode, PtcError } from "../../../src/protocol/errors.js";
import {
  loadProgramSecret,
  PROGRAM_SECRET_FILE,
  ProgramSigner,
  toolsDigest,
} from "../../../src/server/openai/program-fingerprint.js";
import type { FunctionTool } from "../../../src/server/openai/request-validation.js";

const dir = mkdtempSync(join(tmpdir(), "ptc-program-secret-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const tool = (name: string, programmatic = true): FunctionTool => ({
  name,
  description: undefined,
  parameters: { type: "object", properties: { sku: { type: "string" } } },
  direct: !programmatic,
  programmatic,
  outputSchema: undefined,
});

const refusedFingerprint = (error: unknown) => PtcError.is(error, ErrorCode.ProgramFingerprintInvalid);

describe("program fingerprints", () => {
  const signer = new ProgramSigner(Buffer.from("a".repeat(32)));
  const tools = toolsDigest([tool("getInventory"), tool("getDemand")]);
  const program = { callId: "call_1", code: "text('hi')", seed: 12345, tools };
  const item = { call_id: "call_1", code: "text('hi')", fingerprint: signer.sign(program) };

  test("verify gives back the seed of a program signed as it is", () => {
    assert.match(item.fingerprint, /^ptc1\.12345\.[A-Za-z0-9_-]{43}$/);
    assert.equal(signer.verify(item, tools), 12345);
  });

  test("any change to code, call id, seed, tools or secret is refused", () => {
    assert.throws(() => signer.verify({ ...item, code: "text('hi!')" }, tools), refusedFingerprint);
    assert.throws(() => signer.verify({ ...item, call_id: "call_2" }, tools), refusedFingerprint);
    assert.throws(
      () => signer.verify({ ...item, fingerprint: item.fingerprint.replace("12345", "12346") }, tools),
      refusedFingerprint,
    );
    assert.throws(() => signer.verify(item, toolsDigest([tool("getInventory")])), refusedFingerprint);
    assert.throws(() => new ProgramSigner(Buffer.from("b".repeat(32))).verify(item, tools), refusedFingerprint);
    for (const fingerprint of ["", "gAAAAABq", "ptc1.x.y", "ptc2.1.AAAA", `${item.fingerprint}.extra`]) {
      assert.throws(() => signer.verify({ ...item, fingerprint }, tools), refusedFingerprint, fingerprint);
    }
  });

  test("the tool digest ignores order and direct-only tools, but not schemas", () => {
    assert.equal(toolsDigest([tool("b"), tool("a")]), toolsDigest([tool("a"), tool("b"), tool("c", false)]));
    const changed = { ...tool("a"), outputSchema: { type: "object" } };
    assert.notEqual(toolsDigest([tool("a")]), toolsDigest([changed]));
  });
});

describe("the program secret", () => {
  test("a configured secret is used as given; a short one is refused", async () => {
    const secret = await loadProgramSecret({ configured: "s".repeat(40), dataDirectory: join(dir, "unused") });
    assert.equal(secret.toString("utf8"), "s".repeat(40));
    await assert.rejects(loadProgramSecret({ configured: "short", dataDirectory: dir }), (error: unknown) =>
      PtcError.is(error, ErrorCode.InvalidRequest),
    );
  });

  test("without one, a random secret is made once in the data directory (0600) and read back after a restart", async () => {
    const data = join(dir, "data");
    const first = await loadProgramSecret({ dataDirectory: data });
    assert.equal(first.length, 32);
    assert.equal(statSync(join(data, PROGRAM_SECRET_FILE)).mode & 0o777, 0o600);
    const [again, concurrently] = await Promise.all([
      loadProgramSecret({ dataDirectory: data }),
      loadProgramSecret({ dataDirectory: data }),
    ]);
    assert.deepEqual(again, first);
    assert.deepEqual(concurrently, first);
    assert.notDeepEqual(await loadProgramSecret({ dataDirectory: join(dir, "other") }), first);
  });
});
