import type { ErrorObject, Options, ValidateFunction } from "ajv";
import { Ajv } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { JsonSchema } from "../protocol/json-schema.js";

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule.default;

type Draft = "draft-07" | "2019-09" | "2020-12";

const OPTIONS: Options = {
  // Tool schemas come from many generators (Zod, Pydantic, MCP servers) with extra keywords; ignore them.
  strict: false,
  // Stop at the first error: with allErrors an input with 700,000 extra keys cost the host's event loop
  // ~1.2 s per refused call, and a script can make a thousand. The first error is what a model fixes first.
  allErrors: false,
  // `required: ["constructor"]` must not be satisfied by Object.prototype.
  ownProperties: true,
  // Two tools may reuse one `$id`; schemas are compiled standalone, never registered on the instance.
  addUsedSchema: false,
};

function draftOf(schema: JsonSchema): Draft {
  const uri = typeof schema.$schema === "string" ? schema.$schema : "";
  if (uri.includes("2020-12")) return "2020-12";
  if (uri.includes("2019-09")) return "2019-09";
  return "draft-07";
}

/**
 * Ajv instances are shared by every registry: creating one (with its formats) costs ~11 ms, which a
 * registry built per request (client tools in `ptc serve`) would pay each time.
 */
const instances = new Map<Draft, Ajv>();
/** Compiled validators by schema object: the server's own tools are compiled once, not per request. */
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

function instance(draft: Draft): Ajv {
  let ajv = instances.get(draft);
  if (ajv === undefined) {
    ajv = draft === "2020-12" ? new Ajv2020(OPTIONS) : draft === "2019-09" ? new Ajv2019(OPTIONS) : new Ajv(OPTIONS);
    addFormats(ajv);
    instances.set(draft, ajv);
  }
  return ajv;
}

/** Compiles input schemas with the shared Ajv instances. */
export class SchemaCompiler {
  /** Throws Ajv's error for an invalid schema; callers add the tool's name. */
  compile(schema: JsonSchema): ValidateFunction {
    const cached = compiled.get(schema);
    if (cached !== undefined) return cached;
    const draft = draftOf(schema);
    // Older or unknown `$schema` URIs (draft-04, draft-06) are not loaded in Ajv; validate them as draft-07.
    const { $schema, ...rest } = schema;
    const source =
      draft === "draft-07" && $schema !== undefined && !String($schema).includes("draft-07") ? rest : schema;
    const ajv = instance(draft);
    try {
      const validate = ajv.compile(source);
      compiled.set(schema, validate);
      return validate;
    } finally {
      // Ajv keeps every compiled schema in a strong cache; the WeakMap above is the cache, so drop it.
      ajv.removeSchema(source);
    }
  }
}

const MAX_LISTED = 3;
const MAX_KEY = 64;

function clip(text: string): string {
  return text.length > MAX_KEY ? `${text.slice(0, MAX_KEY)}…` : text;
}

/** `/rows/0/first-name` → `rows[0]["first-name"]`, a path a Python author recognizes. */
function path(instancePath: string): string {
  if (instancePath === "") return "arguments";
  let out = "";
  for (const raw of instancePath.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (/^(0|[1-9][0-9]*)$/.test(key)) out += `[${key}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(clip(key))}]`;
  }
  return out;
}

function message(error: ErrorObject): string {
  const text = error.message ?? "is invalid";
  const params: Record<string, unknown> = error.params;
  if (error.keyword === "additionalProperties" && typeof params.additionalProperty === "string") {
    return `${text} (${JSON.stringify(clip(params.additionalProperty))})`;
  }
  if (error.keyword === "enum" && Array.isArray(params.allowedValues)) {
    return `${text}: ${clip(params.allowedValues.map((v) => JSON.stringify(v)).join(", "))}`;
  }
  return text;
}

/** The first few Ajv errors as `path: message`, short enough to show a model. */
export function describeValidationErrors(errors: readonly ErrorObject[] | null | undefined): string {
  const list = errors ?? [];
  if (list.length === 0) return "arguments: do not match the input schema";
  const shown = list.slice(0, MAX_LISTED).map((error) => `${path(error.instancePath)}: ${message(error)}`);
  if (list.length > MAX_LISTED) shown.push(`(${list.length - MAX_LISTED} more)`);
  return shown.join("; ");
}
