import { isPythonIdentifier } from "./python-names.js";
import { commentText, indent, pascalCase, pyString } from "./python-text.js";

/** Names the stubs may import from `typing`, in the order they are imported. */
export type TypingName = "Any" | "Literal" | "NotRequired" | "TypedDict";
const TYPING_ORDER: readonly TypingName[] = ["Any", "Literal", "NotRequired", "TypedDict"];

/** Deeper schemas are documented as `Any`: stubs are prompt text, and a bound keeps cyclic objects finite. */
const MAX_DEPTH = 12;

type SchemaObject = Readonly<Record<string, unknown>>;

function isSchemaObject(value: unknown): value is SchemaObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function literal(value: unknown): string | undefined {
  if (typeof value === "string") return pyString(value);
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/**
 * Maps JSON Schema to Python type expressions for the stubs. Object shapes with properties become TypedDicts,
 * collected in dependency order (nested shapes first) so the functional TypedDict form, which evaluates its
 * field types immediately, never references a later class.
 */
export class PythonTypeMapper {
  private readonly used: Set<string>;
  private readonly imported = new Set<TypingName>();
  private pending: string[] = [];

  /** `reserved`: names already taken in the stub module (tool functions, imports). */
  constructor(reserved: Iterable<string>) {
    this.used = new Set([...reserved, ...TYPING_ORDER]);
  }

  /** A Python type expression for `schema`; `hint` names any TypedDict it needs. */
  map(schema: unknown, hint: string): string {
    return this.join(this.members(schema, hint, 0));
  }

  /** Records a use of a typing name outside type expressions (e.g. `**kwargs: Any`). */
  use(name: TypingName): void {
    this.imported.add(name);
  }

  /** TypedDict definitions produced since the last call, ready to emit. */
  takeDefinitions(): string[] {
    const definitions = this.pending;
    this.pending = [];
    return definitions;
  }

  /** `from typing import ...` for what the stubs used, or "" when nothing. */
  importLine(): string {
    const names = TYPING_ORDER.filter((name) => this.imported.has(name));
    return names.length === 0 ? "" : `from typing import ${names.join(", ")}`;
  }

  join(members: readonly string[]): string {
    if (members.includes("Any")) {
      this.imported.add("Any");
      return "Any";
    }
    // None last reads as Python's usual `X | None`.
    const ordered = [...members.filter((m) => m !== "None"), ...members.filter((m) => m === "None")];
    return ordered.join(" | ");
  }

  private members(schema: unknown, hint: string, depth: number): string[] {
    if (!isSchemaObject(schema) || depth > MAX_DEPTH || typeof schema.$ref === "string") return ["Any"];
    const result = new Set<string>();
    const add = (members: readonly string[]) => {
      for (const member of members) result.add(member);
    };
    if ("const" in schema) {
      add(this.literals([schema.const]) ?? ["Any"]);
    } else if (Array.isArray(schema.enum) && schema.enum.length > 0) {
      add(this.literals(schema.enum) ?? this.byType(schema, hint, depth));
    } else if (Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf)) {
      const variants: unknown[] = [
        ...(Array.isArray(schema.anyOf) ? schema.anyOf : []),
        ...(Array.isArray(schema.oneOf) ? schema.oneOf : []),
      ];
      const shaped = variants.filter((v) => !(isSchemaObject(v) && v.type === "null"));
      variants.forEach((variant, i) => {
        // `anyOf: [X, null]` is the common nullable spelling: X keeps the plain name.
        const name = shaped.length > 1 ? `${hint}Option${i + 1}` : hint;
        add(this.members(variant, name, depth + 1));
      });
    } else if (Array.isArray(schema.allOf) && schema.allOf.length === 1) {
      add(this.members(schema.allOf[0], hint, depth + 1));
    } else if (Array.isArray(schema.allOf)) {
      add(["Any"]);
    } else {
      add(this.byType(schema, hint, depth));
    }
    return [...result];
  }

  /** `Literal[...]` (plus `None` for null) when every value has a Python literal form. */
  private literals(values: readonly unknown[]): string[] | undefined {
    const parts: string[] = [];
    let nullable = false;
    for (const value of values) {
      if (value === null) {
        nullable = true;
        continue;
      }
      const part = literal(value);
      if (part === undefined) return undefined;
      if (!parts.includes(part)) parts.push(part);
    }
    const members: string[] = [];
    if (parts.length > 0) {
      this.imported.add("Literal");
      members.push(`Literal[${parts.join(", ")}]`);
    }
    if (nullable) members.push("None");
    return members;
  }

  private byType(schema: SchemaObject, hint: string, depth: number): string[] {
    let types: readonly unknown[];
    if (typeof schema.type === "string") types = [schema.type];
    else if (Array.isArray(schema.type)) types = schema.type;
    else if (isSchemaObject(schema.properties)) types = ["object"];
    else if (schema.items !== undefined) types = ["array"];
    else return ["Any"];
    return types.map((type) => this.single(type, schema, hint, depth));
  }

  private single(type: unknown, schema: SchemaObject, hint: string, depth: number): string {
    switch (type) {
      case "string":
        return "str";
      case "integer":
        return "int";
      case "number":
        return "float";
      case "boolean":
        return "bool";
      case "null":
        return "None";
      case "array":
        // Tuple-style `items` arrays describe positions, which list[...] cannot; Any is honest.
        return isSchemaObject(schema.items)
          ? `list[${this.join(this.members(schema.items, `${hint}Item`, depth + 1))}]`
          : "list[Any]";
      case "object":
        return this.object(schema, hint, depth);
      default:
        return "Any";
    }
  }

  private object(schema: SchemaObject, hint: string, depth: number): string {
    const properties = isSchemaObject(schema.properties) ? Object.entries(schema.properties) : [];
    if (properties.length === 0) {
      return isSchemaObject(schema.additionalProperties) && Object.keys(schema.additionalProperties).length > 0
        ? `dict[str, ${this.join(this.members(schema.additionalProperties, `${hint}Value`, depth + 1))}]`
        : "dict";
    }
    // Claim the name before the fields so the outer shape gets the plain name and nested ones the suffixed.
    const name = this.claim(hint);
    const required = new Set(Array.isArray(schema.required) ? schema.required : []);
    const fields = properties.map(([key, value]) => {
      const type = this.join(this.members(value, `${name}${pascalCase(key)}`, depth + 1));
      const description = isSchemaObject(value) && typeof value.description === "string" ? value.description : "";
      if (!required.has(key)) this.imported.add("NotRequired");
      return { key, type: required.has(key) ? type : `NotRequired[${type}]`, description: commentText(description) };
    });
    this.imported.add("TypedDict");
    const comment = typeof schema.description === "string" ? commentText(schema.description) : "";
    const lines = comment === "" ? [] : [`# ${comment}`];
    // Class syntax needs identifier keys; `__x` would also be name-mangled inside a class body.
    if (fields.every((f) => isPythonIdentifier(f.key) && !f.key.startsWith("__"))) {
      lines.push(`class ${name}(TypedDict):`);
      for (const f of fields)
        lines.push(indent(`${f.key}: ${f.type}${f.description ? `  # ${f.description}` : ""}`, "    "));
    } else {
      lines.push(`${name} = TypedDict(${pyString(name)}, {`);
      for (const f of fields) {
        lines.push(indent(`${pyString(f.key)}: ${f.type},${f.description ? `  # ${f.description}` : ""}`, "    "));
      }
      lines.push("})");
    }
    this.pending.push(lines.join("\n"));
    return name;
  }

  private claim(hint: string): string {
    let name = hint;
    for (let n = 2; this.used.has(name); n++) name = `${hint}${n}`;
    this.used.add(name);
    return name;
  }
}
