/** The subset of JSON Schema ptc reads to generate stubs; any other keyword passes through to validation. */
export interface JsonSchema {
  type?: string | readonly string[];
  description?: string;
  title?: string;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  items?: JsonSchema | readonly JsonSchema[];
  enum?: readonly unknown[];
  const?: unknown;
  anyOf?: readonly JsonSchema[];
  oneOf?: readonly JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  default?: unknown;
  $ref?: string;
  [keyword: string]: unknown;
}

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
