// PLACEHOLDER: replaced by the `ptc mcp` implementation.
export const MCP_USAGE = "ptc mcp [--config FILE] [--http PORT]";

export async function mcpCommand(_argv: readonly string[]): Promise<number> {
  process.stderr.write("ptc mcp: not implemented yet\n");
  return 1;
}
