import { pascalCase } from "./python-text.js";
import { indentLines, inlineComment, isDeclarableName, jsDoc, propertyKey, tsString } from "./typescript-text.js";

/** Deeper schemas are declared `unknown`: declarations are prompt text, and a bound keeps cyclic objects finite. */
export const DEFAULT_TYPESCRIPT_MAX_DEPTH = 12;
/**
 * Type nodes one schema may produce before the rest of it is declared `unknown`. Measured: server-everything's
 * largest schema takes 6 and the sample tools' 15 (the smallest bound that changes nothing); 2,000 keeps a
 * 50,000-value enum or a generated API schema from filling the prompt.
 */
export const DEFAULT_TYPESCRIPT_MAX_NODES = 2_000;

/** Object literals whose one-line form is longer than this (or that carry docs) get one property per line. */
const MAX_INLINE_OBJECT = 80;

/**
 * Names a `type` alias must not take: the globals the declarations rely on or the lib declares that a
 * program is likely to use. Aliases are prefixed with their tool's name, so this is a second guard.
 */
const GLOBAL_NAMES: ReadonlySet<string> = new Set(
  (
    "Array ArrayBuffer Boolean DataView Date Error EvalError Function Infinity JSON Map Math NaN Number Object " +
    "Partial Pick Omit Promise PromiseLike Proxy RangeError Readonly ReadonlyArray Record Reflect RegExp Required " +
    "Set String Symbol SyntaxError TypeError Uint8Array WeakMap WeakSet console image text tools ToolError ToolTimeoutError setTimeout clearTimeout"
  ).split(" "),
);

type SchemaObject = Readonly<Record<string, unknown>>;

function isSchemaObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A type expression and how it binds, so that unions inside arrays and intersections get parentheses. */
interface TypeText {
  readonly text: string;
  readonly kind: "primary" | "union" | "intersection";
}

const UNKNOWN: TypeText = { text: "unknown", kind: "primary" };
const NEVER: TypeText = { text: "never", kind: "primary" };

function primary(text: string): TypeText {
  return { text, kind: "primary" };
}

function literal(value: unknown): string | undefined {
  if (typeof value === "string") return tsString(value);
  if (typeof value === "boolean" || value === null) return String(value);
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

function union(members: readonly TypeText[]): TypeText {
  const seen = new Map<string, TypeText>();
  for (const member of members) {
    if (member.text === "unknown") return UNKNOWN;
    if (member.text !== "never") seen.set(member.text, member);
  }
  // `null` last reads as the usual `X | null`.
  const ordered = [...seen.values()].sort((a, b) => Number(a.text === "null") - Number(b.text === "null"));
  if (ordered.length === 0) return NEVER;
  const [only] = ordered;
  if (ordered.length === 1 && only !== undefined) return only;
  return { text: ordered.map((m) => (m.kind === "primary" ? m.text : `(${m.text})`)).join(" | "), kind: "union" };
}

function intersection(parts: readonly TypeText[]): TypeText {
  const kept = parts.filter((part) => part.text !== "unknown");
  if (kept.some((part) => part.text === "never")) return NEVER;
  const [only] = kept;
  if (only === undefined) return UNKNOWN;
  if (kept.length === 1) return only;
  return { text: kept.map((p) => (p.kind === "union" ? `(${p.text})` : p.text)).join(" & "), kind: "intersection" };
}

function arrayOf(item: TypeText): TypeText {
  return primary(item.kind === "primary" && !item.text.includes("\n") ? `${item.text}[]` : `Array<${item.text}>`);
}

/** What a property's JSDoc says: its description, default and examples. */
function propertyDoc(schema: unknown): string[] {
  if (!isSchemaObject(schema)) return [];
  const lines: string[] = [];
  if (typeof schema.description === "string" && schema.description.trim() !== "") lines.push(schema.description.trim());
  if (schema.default !== undefined) lines.push(`@default ${jsonText(schema.default)}`);
  const examples = Array.isArray(schema.examples)
    ? schema.examples
    : schema.example !== undefined
      ? [schema.example]
      : [];
  for (const example of examples.slice(0, 3)) lines.push(`@example ${jsonText(example)}`);
  return lines;
}

export function jsonText(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** JSON Pointer (`#/$defs/Node`, `#/definitions/a~1b`) inside `root`, or undefined. */
function resolvePointer(root: unknown, ref: string): unknown {
  if (ref === "#") return root;
  if (!ref.startsWith("#/")) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    } catch {
      return undefined;
    }
    if (Array.isArray(node)) node = /^\d+$/.test(segment) ? node[Number(segment)] : undefined;
    else if (isSchemaObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

export interface TypeScriptMapperLimits {
  readonly maxDepth: number;
  readonly maxNodes: number;
  /** JSDoc on properties and aliases (descriptions, defaults, examples). */
  readonly docs: boolean;
}

/**
 * Maps JSON Schema to TypeScript type expressions. `$ref`s become named `type` aliases (collected with
 * `takeDefinitions`), declared before their body is mapped so recursive schemas end; anything the mapper
 * cannot express, or that passes the depth or node bounds, is `unknown`, never an error.
 */
export class TypeScriptTypeMapper {
  private readonly used = new Set<string>(GLOBAL_NAMES);
  private pending: string[] = [];
  private root: unknown = undefined;
  private aliases = new Map<string, string>();
  private prefix = "";
  private nodes = 0;

  constructor(private readonly limits: TypeScriptMapperLimits) {}

  /** A type expression for `schema`, the root its `$ref`s point into; `base` prefixes the aliases it declares. */
  map(schema: unknown, base: string): string {
    this.root = schema;
    this.aliases = new Map();
    this.prefix = base;
    this.nodes = 0;
    const type = this.type(schema, base, 0).text;
    // A schema that refers to itself (`$ref: "#"`) has its whole body in that alias already.
    return this.aliases.get("#") ?? type;
  }

  /** `type` aliases produced since the last call, ready to emit before the declarations using them. */
  takeDefinitions(): string[] {
    const definitions = this.pending;
    this.pending = [];
    return definitions;
  }

  private type(schema: unknown, hint: string, depth: number): TypeText {
    if (schema === true) return UNKNOWN;
    if (schema === false) return NEVER;
    if (!isSchemaObject(schema) || depth > this.limits.maxDepth || ++this.nodes > this.limits.maxNodes) return UNKNOWN;
    const parts: TypeText[] = [this.base(schema, hint, depth)];
    if (typeof schema.$ref === "string") parts.push(this.reference(schema.$ref, depth));
    for (const keyword of ["anyOf", "oneOf"] as const) {
      const variants = schema[keyword];
      if (Array.isArray(variants) && variants.length > 0) {
        parts.push(union(variants.map((variant, i) => this.type(variant, `${hint}Option${i + 1}`, depth + 1))));
      }
    }
    if (Array.isArray(schema.allOf)) {
      parts.push(intersection(schema.allOf.map((part, i) => this.type(part, `${hint}Part${i + 1}`, depth + 1))));
    }
    const combined = intersection(parts);
    // OpenAPI 3.0 spells a nullable value `nullable: true`.
    return schema.nullable === true && combined.text !== "unknown" ? union([combined, primary("null")]) : combined;
  }

  /** The type the schema's own keywords give (`const`, `enum`, `type`), before combinators. */
  private base(schema: SchemaObject, hint: string, depth: number): TypeText {
    if ("const" in schema) return primary(literal(schema.const) ?? "unknown");
    if (Array.isArray(schema.enum) && schema.enum.length > 0) {
      const literals = schema.enum.map(literal);
      this.nodes += literals.length;
      if (this.nodes > this.limits.maxNodes) return UNKNOWN;
      if (literals.every((l) => l !== undefined)) return union(literals.map((l) => primary(l)));
    }
    let types: readonly unknown[];
    if (typeof schema.type === "string") types = [schema.type];
    else if (Array.isArray(schema.type)) types = schema.type;
    else if (isSchemaObject(schema.properties) || isSchemaObject(schema.additionalProperties)) types = ["object"];
    else if (schema.items !== undefined || Array.isArray(schema.prefixItems)) types = ["array"];
    else return UNKNOWN;
    return union(types.map((type) => this.single(type, schema, hint, depth)));
  }

  private single(type: unknown, schema: SchemaObject, hint: string, depth: number): TypeText {
    switch (type) {
      case "string": {
        const format = typeof schema.format === "string" ? inlineComment(schema.format) : "";
        return primary(format === "" ? "string" : `string ${format}`);
      }
      case "integer":
      case "number":
        return primary("number");
      case "boolean":
        return primary("boolean");
      case "null":
        return primary("null");
      case "array":
        return this.array(schema, hint, depth);
      case "object":
        return this.object(schema, hint, depth);
      default:
        return UNKNOWN;
    }
  }

  private array(schema: SchemaObject, hint: string, depth: number): TypeText {
    // 2020-12 spells tuples `prefixItems` + `items` (the rest); draft-07 `items: [...]` + `additionalItems`.
    const positional = Array.isArray(schema.prefixItems)
      ? schema.prefixItems
      : Array.isArray(schema.items)
        ? schema.items
        : undefined;
    const rest = Array.isArray(schema.prefixItems)
      ? schema.items
      : Array.isArray(schema.items)
        ? schema.additionalItems
        : undefined;
    if (positional === undefined) {
      return schema.items === undefined
        ? primary("unknown[]")
        : arrayOf(this.type(schema.items, `${hint}Item`, depth + 1));
    }
    const minItems = typeof schema.minItems === "number" ? schema.minItems : 0;
    const elements = positional.map((item, i) => {
      const element = this.type(item, `${hint}Item${i + 1}`, depth + 1);
      if (i < minItems) return element.text;
      return element.kind === "primary" ? `${element.text}?` : `(${element.text})?`;
    });
    const closed =
      rest === false ||
      (rest === undefined && typeof schema.maxItems === "number" && schema.maxItems <= positional.length);
    if (!closed)
      elements.push(
        `...${arrayOf(rest === undefined || rest === true ? UNKNOWN : this.type(rest, `${hint}Item`, depth + 1)).text}`,
      );
    return primary(`[${elements.join(", ")}]`);
  }

  private object(schema: SchemaObject, hint: string, depth: number): TypeText {
    const properties = isSchemaObject(schema.properties) ? schema.properties : {};
    const required = requiredKeys(schema);
    // A name listed as required but never described is still a property that must be there.
    const keys = [...new Set([...Object.keys(properties), ...required])];
    const extra = schema.additionalProperties;
    const open =
      extra === true ||
      (isSchemaObject(extra) && Object.keys(extra).length > 0) ||
      isSchemaObject(schema.patternProperties);
    if (keys.length === 0) {
      if (extra === false) return primary("Record<string, never>");
      const value = isSchemaObject(extra) ? this.type(extra, `${hint}Value`, depth + 1) : UNKNOWN;
      return primary(`Record<string, ${value.text}>`);
    }
    let documented = false;
    const fields = keys.map((key) => {
      const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
      const doc = this.limits.docs ? jsDoc(propertyDoc(property)) : "";
      if (doc !== "") documented = true;
      const type = property === undefined ? UNKNOWN : this.type(property, `${hint}${pascalCase(key)}`, depth + 1);
      const field = `${propertyKey(key)}${required.has(key) ? "" : "?"}: ${type.text}`;
      return doc === "" ? field : `${doc}\n${field}`;
    });
    // Named properties must fit the index signature's type, so the other keys are `unknown`.
    if (open) fields.push("[key: string]: unknown");
    const oneLine = `{ ${fields.join("; ")} }`;
    if (!documented && !oneLine.includes("\n") && oneLine.length <= MAX_INLINE_OBJECT) {
      return primary(oneLine);
    }
    return primary(`{\n${fields.map((field) => indentLines(`${field};`, "  ")).join("\n")}\n}`);
  }

  private reference(ref: string, depth: number): TypeText {
    const known = this.aliases.get(ref);
    if (known !== undefined) return primary(known);
    const target = resolvePointer(this.root, ref);
    if (target === undefined) return UNKNOWN;
    const segments = ref.split("/");
    const last = segments[segments.length - 1] ?? "";
    const title = isSchemaObject(target) && typeof target.title === "string" ? target.title : "";
    const name = this.claim(`${this.prefix}${pascalCase(title !== "" ? title : last === "#" ? "Self" : last)}`);
    // Declared before its body is mapped: a reference back to it (a tree's children) names it and stops.
    this.aliases.set(ref, name);
    const body = this.type(target, name, depth + 1);
    const described = this.limits.docs && isSchemaObject(target) && typeof target.description === "string";
    const doc = described ? jsDoc([target.description as string]) : "";
    this.pending.push(`${doc === "" ? "" : `${doc}\n`}type ${name} = ${body.text};`);
    return primary(name);
  }

  private claim(hint: string): string {
    let name = isDeclarableName(hint) ? hint : `T${hint}`;
    const stem = name;
    for (let n = 2; this.used.has(name); n++) name = `${stem}${n}`;
    this.used.add(name);
    return name;
  }
}

/** True when an object schema requires some property (a tool's arguments must then be passed). */
export function requiresSomething(schema: unknown): boolean {
  return isSchemaObject(schema) && requiredKeys(schema).size > 0;
}

function requiredKeys(schema: SchemaObject): ReadonlySet<string> {
  return new Set(Array.isArray(schema.required) ? schema.required.filter((r) => typeof r === "string") : []);
}
