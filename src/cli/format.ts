import type { ExecutionResult } from "../protocol/execution.js";

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1_048_576) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1_048_576).toFixed(1)} MB`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** The one-paragraph summary `ptc run` prints after the script's own output. */
export function formatSummary(result: ExecutionResult): string {
  const calls = result.toolCalls.length;
  const failed = result.toolCalls.filter((call) => call.outcome === "error").length;
  const cancelled = result.toolCalls.filter((call) => call.outcome === "cancelled").length;
  const notes = [failed ? `${failed} failed` : "", cancelled ? `${cancelled} cancelled` : ""].filter(Boolean);
  const savings = result.contextSavings;
  const lines = [
    `── ptc · ${result.status} · ${calls} tool call${calls === 1 ? "" : "s"}${notes.length > 0 ? ` (${notes.join(", ")})` : ""} · ${formatMs(result.timings.totalMs)} total, ${formatMs(result.timings.activeMs)} running, ${formatMs(result.timings.toolWaitMs)} waiting on tools`,
    `   kept out of context: ${formatBytes(savings.toolResultBytes)} of tool results (${savings.toolResultTokens.toLocaleString("en-US")} tokens); output: ${formatBytes(savings.outputBytes)} (${savings.outputTokens.toLocaleString("en-US")} tokens)`,
    `   isolation: ${result.isolation.level} (${result.isolation.runtime}, node ${result.isolation.nodeVersion})`,
  ];
  if (result.limitsHit.length > 0) lines.push(`   limits hit: ${result.limitsHit.join(", ")}`);
  if (result.error) lines.push(`   error: ${result.error.code}: ${result.error.type}: ${result.error.message}`);
  return lines.join("\n");
}
