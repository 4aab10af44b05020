export { normalizeCallers } from "./allowed-callers.js";
export { type InputProblem, inspectToolInput, MAX_TOOL_INPUT_DEPTH } from "./input-guard.js";
export { isPythonIdentifier, toPythonName } from "./python-names.js";
export { generatePythonStubs, type PythonStubOptions } from "./python-stubs.js";
export {
  describeSchemaIssues,
  isStandardSchema,
  resolveToolDefinition,
  type SchemaDirection,
  toolSchemaToJsonSchema,
} from "./schema-source.js";
export { describeValidationErrors, SchemaCompiler } from "./schema-validator.js";
export { type InputCheck, type RegisteredTool, ToolRegistry } from "./tool-registry.js";
