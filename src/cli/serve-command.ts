// PLACEHOLDER: replaced by the `ptc serve` implementation.
export const SERVE_USAGE = "ptc serve [--config FILE] [--port PORT] [--host HOST]";

export async function serveCommand(_argv: readonly string[]): Promise<number> {
  process.stderr.write("ptc serve: not implemented yet\n");
  return 1;
}
