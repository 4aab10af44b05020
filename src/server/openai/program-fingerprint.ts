import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ErrorCode, PtcError } from "../../protocol/errors.js";
import { canonicalJson, sha256Hex } from "../../sandbox/pyodide/canonical-json.js";
import type { FunctionTool } from "./request-validation.js";

/** Leads every fingerprint ptc signs: a later format gets another prefix, and old ones are refused clearly. */
const VERSION = "ptc1";
/** The secret file in the data directory, when neither the config nor the environment gives one. */
export const PROGRAM_SECRET_FILE = "program-secret";
/** Bytes of a generated secret (HMAC-SHA256's block is 64; 32 random bytes are its full strength). */
const SECRET_BYTES = 32;
/** A configured secret shorter than this is refused: it could be guessed, and with it any code signed. */
export const MIN_PROGRAM_SECRET_CHARS = 32;

/** What a fingerprint binds: the program as the model wrote it, the seed it runs with, the tools it may call. */
export interface SignedProgram {
  callId: string;
  code: string;
  /** The seed of the program's container (`Math.random`): a re-run must see the same one. */
  seed: number;
  /** `toolsDigest` of the request's programmatic tools when the program started. */
  tools: string;
}

/**
 * The digest of the tools a program may call, as the fingerprint binds them: their names, input and output
 * schemas. A continuation with other tools would run the same code against another API.
 */
export function toolsDigest(tools: readonly FunctionTool[]): string {
  const callable = tools
    .filter((tool) => tool.programmatic)
    .map((tool) => ({ name: tool.name, parameters: tool.parameters, output_schema: tool.outputSchema ?? null }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sha256Hex(canonicalJson(callable));
}

function refused(reason: string): PtcError {
  return new PtcError(
    ErrorCode.ProgramFingerprintInvalid,
    `The program item's fingerprint does not match it: ${reason}. Send the program item exactly as ptc returned it, with the same programmatic tools.`,
  );
}

/**
 * `program.fingerprint`: ptc's signed token for a program (OpenAI's is opaque too, and "must be
 * round-tripped"). `ptc1.<seed>.<HMAC-SHA256>` over the program's call id, seed, tool digest and code, keyed by
 * the server's secret: with `store: false` the client holds the program, and a program ptc re-runs after a
 * restart (or on another node) is only ever the code the model wrote, with the tools it was written for.
 */
export class ProgramSigner {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    if (secret.length === 0) throw new PtcError(ErrorCode.InvalidRequest, "the program secret must not be empty");
    this.#secret = secret;
  }

  sign(program: SignedProgram): string {
    return `${VERSION}.${program.seed}.${this.#mac(program).toString("base64url")}`;
  }

  /** The seed the fingerprint carries, once it is shown to bind `code` and `callId` under `tools`. */
  verify(item: { call_id: string; code: string; fingerprint: string }, tools: string): number {
    const [version, seedText, mac, ...rest] = item.fingerprint.split(".");
    if (version !== VERSION || rest.length > 0 || seedText === undefined || mac === undefined) {
      throw refused("it is not a fingerprint ptc made");
    }
    const seed = Number(seedText);
    if (!/^\d{1,10}$/.test(seedText) || !Number.isSafeInteger(seed)) throw refused("it is not a fingerprint ptc made");
    const expected = this.#mac({ callId: item.call_id, code: item.code, seed, tools });
    const given = Buffer.from(mac, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw refused("its code, call id or tools differ from the program ptc signed");
    }
    return seed;
  }

  #mac(program: SignedProgram): Buffer {
    // One JSON array: no two different programs give the same MAC input.
    const message = JSON.stringify([VERSION, program.callId, program.seed, program.tools, program.code]);
    return createHmac("sha256", this.#secret).update(message).digest();
  }
}

/**
 * The secret programs are signed with: `configured` (`server.programSecret` or `PTC_PROGRAM_SECRET`), else
 * the one in `dataDirectory/program-secret`, made on first use (0600). Every node of a cluster must sign with
 * the same secret, so several nodes on one PostgreSQL store need it configured; one node keeps its file
 * across restarts.
 */
export async function loadProgramSecret(options: { configured?: string; dataDirectory: string }): Promise<Buffer> {
  const { configured, dataDirectory } = options;
  if (configured !== undefined) {
    if (configured.length < MIN_PROGRAM_SECRET_CHARS) {
      throw new PtcError(
        ErrorCode.InvalidRequest,
        `the program secret must have at least ${MIN_PROGRAM_SECRET_CHARS} characters, got ${configured.length}`,
      );
    }
    return Buffer.from(configured, "utf8");
  }
  const path = join(dataDirectory, PROGRAM_SECRET_FILE);
  try {
    return Buffer.from((await readFile(path, "utf8")).trim(), "base64url");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dataDirectory, { recursive: true, mode: 0o700 });
  const secret = randomBytes(SECRET_BYTES);
  try {
    // `wx`: of two processes starting at once, one writes and the other reads what it wrote.
    await writeFile(path, `${secret.toString("base64url")}\n`, { mode: 0o600, flag: "wx" });
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return Buffer.from((await readFile(path, "utf8")).trim(), "base64url");
  }
}
