/**
 * The five example use cases as the JavaScript programs a model writes for OpenAI's programmatic tool calling
 * (top-level `await`, `await tools.name({...})` returning the parsed object of a tool with an output schema,
 * `Promise.all`, `text(...)`), each doing what its Python example in examples/ does. QuickJS has no `Intl`:
 * thousands separators are put in by hand.
 */

const GROUPED = "const grouped = (n) => String(n).replace(/\\B(?=(\\d{3})+(?!\\d))/g, ',');";
const MONEY = `${GROUPED}\nconst money = (cents) => '$' + grouped((cents / 100).toFixed(2).split('.')[0]) + '.' + (cents / 100).toFixed(2).split('.')[1];`;

const TOP_REGION = `${MONEY}
// Which of the five core regions brought in the most revenue? One query per region, aggregated here.
const REGIONS = ["North", "South", "East", "West", "Central"];
const totals = {};
for (const region of REGIONS) {
  const rows = await tools.query_database({
    sql: \`SELECT COALESCE(SUM(o.amount_cents), 0) AS revenue_cents
          FROM orders o JOIN regions r ON r.id = o.region_id
          WHERE r.name = '\${region}' AND o.status = 'completed'\`,
  });
  totals[region] = rows[0].revenue_cents;
}
const top = Object.keys(totals).reduce((best, region) => (totals[region] > totals[best] ? region : best));
text(\`Top region: \${top} with \${money(totals[top])} in completed-order revenue\`);`;

const FIFTY_REGIONS = `${MONEY}
// Revenue for all 50 regions: one query per region, all in flight at once with Promise.all.
const regions = await tools.query_database({ sql: "SELECT id, name FROM regions ORDER BY id" });
const totals = await Promise.all(regions.map(async (region) => {
  const rows = await tools.query_database({
    sql: \`SELECT COALESCE(SUM(amount_cents), 0) AS cents FROM orders WHERE region_id = \${Number(region.id)} AND status = 'completed'\`,
  });
  return [region.name, rows[0].cents];
}));
const ranked = [...totals].sort((a, b) => b[1] - a[1]);
const lines = [\`Top 3 of \${totals.length} regions by completed-order revenue:\`];
ranked.slice(0, 3).forEach(([name, cents], i) => lines.push(\`\${i + 1}. \${name}: \${money(cents)}\`));
lines.push(\`Grand total: \${money(totals.reduce((sum, [, cents]) => sum + cents, 0))}\`);
text(lines.join("\\n"));`;

const READ_IF_SMALL = `${GROUPED}
// Check each file's size first; read it whole only if it is small, otherwise look at a summary.
const SMALL_BYTES = 10_000;
const lines = [];
for (const path of ["/reports/q3-summary.txt", "/reports/full-ledger.csv"]) {
  const info = await tools.get_file_info({ path });
  const size = info.size_bytes;
  if (size < SMALL_BYTES) {
    const content = await tools.read_file({ path });
    const revenue = content.split("\\n").find((line) => line.startsWith("Revenue:"));
    lines.push(\`\${path}: \${grouped(size)} bytes, read in full (\${info.lines} lines). \${revenue}\`);
  } else {
    const summary = await tools.summarize_file({ path, max_lines: 3 });
    lines.push(\`\${path}: \${grouped(size)} bytes, too large to read; summarized (\${grouped(summary.line_count)} lines). Head:\`);
    for (const line of summary.head) lines.push(\`  \${line}\`);
  }
}
text(lines.join("\\n"));`;

const ERROR_LOGS = `${GROUPED}
// Fetch 10,000 log entries but hand back only the errors: the filtering happens here, not in the model's context.
const logs = await tools.fetch_logs({ limit: 10_000 });
const errors = logs.filter((entry) => entry.level === "ERROR");
const lines = [\`\${errors.length} ERROR entries in \${grouped(logs.length)} log lines. Last 10:\`];
for (const entry of errors.slice(-10)) lines.push(\`\${entry.timestamp} [\${entry.service}] \${entry.message}\`);
text(lines.join("\\n"));`;

const FIRST_HEALTHY = `// Check endpoints in order and stop at the first healthy one: the remaining endpoints are never called.
const ENDPOINTS = [1, 2, 3, 4, 5].map((n) => \`https://api-\${n}.internal/health\`);
let answer = \`No healthy endpoint among \${ENDPOINTS.length}\`;
for (const [index, url] of ENDPOINTS.entries()) {
  const status = await tools.check_endpoint({ url });
  if (status.healthy) {
    answer = \`First healthy endpoint: \${url} (\${status.latency_ms} ms), found after \${index + 1} of \${ENDPOINTS.length} checks\`;
    break;
  }
}
text(answer);`;

/** By the Python example's path (tokens-cases.ts `UseCase.script`). */
export const JAVASCRIPT_PROGRAMS: Readonly<Record<string, string>> = {
  "examples/sales/top-region.py": TOP_REGION,
  "examples/batch/fifty-regions.py": FIFTY_REGIONS,
  "examples/conditional/read-if-small.py": READ_IF_SMALL,
  "examples/filtering/error-logs.py": ERROR_LOGS,
  "examples/early-termination/first-healthy.py": FIRST_HEALTHY,
};
