// `ptc/tools`: a tool list's registry and the Python stubs and TypeScript declarations the model is shown. Validation, naming and
// schema conversion internals stay private.
export { generatePythonStubs, type PythonStubOptions } from "./python-stubs.js";
export { toolSchemaToJsonSchema } from "./schema-source.js";
export { type RegisteredTool, ToolRegistry, type ToolRegistryOptions } from "./tool-registry.js";
export {
  DEFAULT_TYPESCRIPT_MAX_DEPTH,
  DEFAULT_TYPESCRIPT_MAX_NODES,
  generateTypeScriptDeclarations,
  type TypeScriptDeclarationOptions,
} from "./typescript-stubs.js";
