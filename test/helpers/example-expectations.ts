/**
 * The exact stdout of each example in examples/, recomputed here in TS from the sample database
 * with plain SQL. Each function mirrors its script's logic and formatting, so an engine run of the
 * script can be compared byte for byte.
 */
import type Database from "better-sqlite3";
import { CORE_REGIONS, createSalesDatabase, formatCents, formatCount, splitLines } from "../../src/sample/index.js";

export const EXAMPLE_PATHS = [
  "examples/sales/top-region.py",
  "examples/batch/fifty-regions.py",
  "examples/conditional/read-if-small.py",
  "examples/filtering/error-logs.py",
  "examples/early-termination/first-healthy.py",
] as const;

export type ExamplePath = (typeof EXAMPLE_PATHS)[number];

/** Endpoints the early-termination example checks, in order: it must never call any later one. */
export const FIRST_HEALTHY_ENDPOINTS = [1, 2, 3, 4, 5].map((n) => `https://api-${n}.internal/health`);

export function expectedExampleOutputs(
  database: Database.Database = createSalesDatabase(),
): Record<ExamplePath, string> {
  return {
    "examples/sales/top-region.py": topRegion(database),
    "examples/batch/fifty-regions.py": fiftyRegions(database),
    "examples/conditional/read-if-small.py": readIfSmall(database),
    "examples/filtering/error-logs.py": errorLogs(database),
    "examples/early-termination/first-healthy.py": firstHealthy(database),
  };
}

/** URLs the early-termination example calls check_endpoint with, up to and including the first healthy one. */
export function expectedCheckedEndpoints(database: Database.Database = createSalesDatabase()): string[] {
  const checked: string[] = [];
  for (const url of FIRST_HEALTHY_ENDPOINTS) {
    checked.push(url);
    if (endpoint(database, url).healthy === 1) break;
  }
  return checked;
}

const lines = (...output: string[]): string => `${output.join("\n")}\n`;

function completedRevenueByRegionId(database: Database.Database, regionId: number): number {
  const row = database
    .prepare<[number], { cents: number }>(
      "SELECT COALESCE(SUM(amount_cents), 0) AS cents FROM orders WHERE region_id = ? AND status = 'completed'",
    )
    .get(regionId);
  return row?.cents ?? 0;
}

/** Python's max(): the first of equal maxima wins. */
function topRegion(database: Database.Database): string {
  let top: { name: string; cents: number } | undefined;
  for (const name of CORE_REGIONS) {
    const id = database.prepare<[string], number>("SELECT id FROM regions WHERE name = ?").pluck().get(name);
    if (id === undefined) throw new Error(`no region ${name}`);
    const cents = completedRevenueByRegionId(database, id);
    if (!top || cents > top.cents) top = { name, cents };
  }
  if (!top) throw new Error("no regions");
  return lines(`Top region: ${top.name} with ${formatCents(top.cents)} in completed-order revenue`);
}

/** sorted(..., reverse=True) is stable, like Array.prototype.sort with a descending comparator. */
function fiftyRegions(database: Database.Database): string {
  const regions = database.prepare<[], { id: number; name: string }>("SELECT id, name FROM regions ORDER BY id").all();
  const totals = regions.map((region) => ({
    name: region.name,
    cents: completedRevenueByRegionId(database, region.id),
  }));
  const ranked = [...totals].sort((a, b) => b.cents - a.cents);
  return lines(
    `Top 3 of ${totals.length} regions by completed-order revenue:`,
    ...ranked.slice(0, 3).map((region, index) => `${index + 1}. ${region.name}: ${formatCents(region.cents)}`),
    `Grand total: ${formatCents(totals.reduce((sum, region) => sum + region.cents, 0))}`,
  );
}

function readIfSmall(database: Database.Database): string {
  const output: string[] = [];
  for (const path of ["/reports/q3-summary.txt", "/reports/full-ledger.csv"]) {
    const file = database
      .prepare<[string], { size_bytes: number; content: string }>(
        "SELECT size_bytes, content FROM files WHERE path = ?",
      )
      .get(path);
    if (!file) throw new Error(`no file ${path}`);
    const fileLines = splitLines(file.content);
    if (file.size_bytes < 10_000) {
      const revenue = fileLines.find((line) => line.startsWith("Revenue:"));
      output.push(
        `${path}: ${formatCount(file.size_bytes)} bytes, read in full (${fileLines.length} lines). ${revenue ?? ""}`,
      );
    } else {
      output.push(
        `${path}: ${formatCount(file.size_bytes)} bytes, too large to read; summarized (${formatCount(fileLines.length)} lines). Head:`,
        ...fileLines.slice(0, 3).map((line) => `  ${line}`),
      );
    }
  }
  return lines(...output);
}

function errorLogs(database: Database.Database): string {
  // fetch_logs(limit=10_000): the most recent 10,000 entries, oldest first.
  const logs = database
    .prepare<[], { timestamp: string; level: string; service: string; message: string }>(
      "SELECT timestamp, level, service, message FROM (SELECT * FROM logs ORDER BY id DESC LIMIT 10000) ORDER BY id",
    )
    .all();
  const errors = logs.filter((entry) => entry.level === "ERROR");
  return lines(
    `${errors.length} ERROR entries in ${formatCount(logs.length)} log lines. Last 10:`,
    ...errors.slice(-10).map((entry) => `${entry.timestamp} [${entry.service}] ${entry.message}`),
  );
}

function endpoint(database: Database.Database, url: string): { healthy: number; latency_ms: number } {
  const row = database
    .prepare<[string], { healthy: number; latency_ms: number }>(
      "SELECT healthy, latency_ms FROM endpoints WHERE url = ?",
    )
    .get(url);
  if (!row) throw new Error(`no endpoint ${url}`);
  return row;
}

function firstHealthy(database: Database.Database): string {
  const total = FIRST_HEALTHY_ENDPOINTS.length;
  for (const [index, url] of FIRST_HEALTHY_ENDPOINTS.entries()) {
    const status = endpoint(database, url);
    if (status.healthy === 1) {
      return lines(
        `First healthy endpoint: ${url} (${status.latency_ms} ms), found after ${index + 1} of ${total} checks`,
      );
    }
  }
  return lines(`No healthy endpoint among ${total}`);
}
