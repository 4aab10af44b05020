import type { AgentMode } from "../src/agent/agent-types.js";

/** One conversation's counts. */
export interface ModeCounts {
  mode: AgentMode;
  turns: number;
  /** Tool calls made, by the model (traditional) or by the script (programmatic). */
  toolCalls: number;
  /** Sum over requests of o200k_base tokens of the whole request (system + tools + messages). */
  inputTokens: number;
  /** The largest single request, to compare with a context window. */
  largestRequestTokens: number;
  outputTokens: number;
  /** UTF-8 bytes of tool_result content sent to the model. */
  toolBytesInContext: number;
}

export interface UseCaseRow {
  useCase: string;
  adapter: string;
  traditional: ModeCounts;
  programmatic: ModeCounts;
}

const count = (value: number): string => value.toLocaleString("en-US");

export function reductionPercent(row: UseCaseRow): number {
  return (1 - row.programmatic.inputTokens / row.traditional.inputTokens) * 100;
}

/** A Markdown table: readable in a terminal and pasted as is into BENCHMARKS.md. */
export function formatTokenTable(rows: readonly UseCaseRow[]): string {
  const header = [
    "use case",
    "turns (trad → prog)",
    "input tokens, traditional",
    "input tokens, programmatic",
    "reduction",
    "ratio",
    "largest request (trad → prog)",
    "output tokens (trad → prog)",
    "tool bytes in context (trad → prog)",
  ];
  const lines = rows.map((row) => {
    const { traditional: t, programmatic: p } = row;
    return [
      row.useCase,
      `${t.turns} → ${p.turns}`,
      count(t.inputTokens),
      count(p.inputTokens),
      `${reductionPercent(row).toFixed(1)}%`,
      `${(t.inputTokens / p.inputTokens).toFixed(1)}×`,
      `${count(t.largestRequestTokens)} → ${count(p.largestRequestTokens)}`,
      `${count(t.outputTokens)} → ${count(p.outputTokens)}`,
      `${count(t.toolBytesInContext)} → ${count(p.toolBytesInContext)}`,
    ];
  });
  const table = [header, ...lines];
  const widths = header.map((_, column) => Math.max(...table.map((cells) => (cells[column] ?? "").length)));
  const render = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((width, column) => (column === 0 ? `:${"-".repeat(width + 1)}` : `${"-".repeat(width + 1)}:`)).join("|")}|`;
  return [render(header), rule, ...lines.map(render)].join("\n");
}
