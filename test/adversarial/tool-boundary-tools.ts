import { ErrorCode, PtcError } from "../../src/protocol/errors.js";
import type { ToolCallContext, ToolDefinition } from "../../src/protocol/tool.js";
import { codeTool, delay } from "../helpers/engine.js";
import { CANARY, type Harness } from "./harness.js";

/**
 * The server tools of the tool-boundary cases, and what their handlers saw. Handlers are host code, so
 * each one records its calls: a refused call must leave its handler's count at zero.
 */

/** Secret-looking strings a handler's error may carry (a wrapped SDK or HTTP error). None may leave the host. */
export const SECRETS = {
  anthropic: "sk-ant-api03-Zx8Qw2Lk9Vb4Np7Rt1Yh6Jm3Cd5Fg0Hs-AbCdEfGh",
  openai: "sk-proj-Tq7Wz2Xc9Vb4Nm1Lk8Jh5Gf3Ds6Aa0Pp",
  github: "ghp_R2d2C3p0B8b8K2s0Xw9Yq7Lm5Nn3Vv1Tt4Uu",
  aws: "AKIAIOSFODNN7EXAMPLE",
  bearer: "Zm9vYmFyLXRva2VuLTEyMzQ1Njc4OTA",
  urlPassword: "hunter2-db-pass",
  password: "Tr0ub4dor3xYz",
  jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
  environment: CANARY,
} as const;

export function leakyMessage(): string {
  return [
    `upstream refused the request with key ${SECRETS.anthropic} (fallback ${SECRETS.openai})`,
    `git clone failed with token ${SECRETS.github}; aws id ${SECRETS.aws}`,
    `request headers: Authorization: Bearer ${SECRETS.bearer}`,
    `db: postgres://admin:${SECRETS.urlPassword}@db.internal:5432/app password=${SECRETS.password}`,
    `session ${SECRETS.jwt} env ${SECRETS.environment}`,
    new Error("inner failure").stack ?? "",
  ].join("\n");
}

export interface Seen {
  echo: Array<Record<string, unknown>>;
  strict: number;
  adminReset: number;
  sink: number;
  hangSignals: AbortSignal[];
  late: { started: number; resolved: number; signals: AbortSignal[] };
  reentries: number;
}

/** Deep enough that JSON.stringify overflows the stack on it. */
function deepObject(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < levels; i++) value = { child: value };
  return value;
}

/** Values a handler may return that are not JSON, by name. */
const UNSERIALIZABLE: Record<string, () => unknown> = {
  cyclic: () => {
    const value: Record<string, unknown> = { name: "loop" };
    value.self = value;
    return value;
  },
  bigint: () => ({ count: 10n ** 30n }),
  deep: () => deepObject(100_000),
  function: () => () => "not data",
  symbol: () => Symbol("not data"),
  tojson: () => ({
    toJSON() {
      throw new Error(`serializer failed for token ${SECRETS.github}`);
    },
  }),
  undefined: () => undefined,
};

/** Things a handler may throw that are not Errors, by name. */
const THROWABLES: Record<string, () => unknown> = {
  string: () => `plain string with ${SECRETS.openai}`,
  null: () => null,
  undefined: () => undefined,
  number: () => 42,
  tojson: () => ({
    toJSON() {
      throw new Error("toJSON of a thrown value");
    },
  }),
  getter: () =>
    Object.defineProperty(new Error("x"), "message", {
      get() {
        throw new Error("message getter");
      },
    }),
  proxy: () =>
    new Proxy(
      {},
      {
        get() {
          throw new Error("proxy trap");
        },
        getPrototypeOf() {
          throw new Error("proxy trap");
        },
      },
    ),
};

export function boundaryTools(harness: () => Harness): { seen: Seen; tools: ToolDefinition[] } {
  const seen: Seen = {
    echo: [],
    strict: 0,
    adminReset: 0,
    sink: 0,
    hangSignals: [],
    late: { started: 0, resolved: 0, signals: [] },
    reentries: 0,
  };
  const tools: ToolDefinition[] = [
    codeTool("echo", (input) => {
      seen.echo.push(input);
      return input;
    }),
    codeTool(
      "strict_tool",
      () => {
        seen.strict++;
        return "ran";
      },
      { type: "object", properties: { a: { type: "integer" } }, additionalProperties: false },
    ),
    codeTool("sink", () => {
      seen.sink++;
      return "stored";
    }),
    // Direct-only (allowedCallers omitted means ["direct"]): it must not exist for code.
    {
      name: "admin_reset",
      description: "direct callers only",
      inputSchema: { type: "object" },
      handler: () => {
        seen.adminReset++;
        return "reset done";
      },
    },
    codeTool("hang", (_input, context: ToolCallContext) => {
      seen.hangSignals.push(context.signal);
      return new Promise(() => {});
    }),
    codeTool("late", async (input, context: ToolCallContext) => {
      seen.late.started++;
      seen.late.signals.push(context.signal);
      await delay(Number(input.ms));
      seen.late.resolved++;
      return { late: true };
    }),
    codeTool("leaky", () => {
      throw new Error(leakyMessage());
    }),
    codeTool("weird", (input) => UNSERIALIZABLE[String(input.kind)]?.()),
    codeTool("odd_throw", (input) => {
      throw THROWABLES[String(input.kind)]?.();
    }),
    codeTool("huge", () => "x".repeat(60_000_000)),
    // Re-enters ptc: runs a script that calls this same tool again. Bounded here too (at 6), so that
    // without the engine's depth limit the test fails instead of exhausting the machine.
    codeTool("recurse", async () => {
      if (++seen.reentries > 6) return "unbounded";
      const result = await harness().engine.execute({ code: "print(await recurse())" }).result;
      if (result.error) throw new PtcError(result.error.code, result.error.message);
      return result.stdout.trim();
    }),
    codeTool("nested_once", async () => {
      const result = await harness().engine.execute({ code: "print(6 * 7)" }).result;
      if (result.error) throw new PtcError(ErrorCode.ToolError, result.error.message);
      return result.stdout.trim();
    }),
  ];
  return { seen, tools };
}
