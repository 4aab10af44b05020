import type { MachineInfo } from "./machine.js";
import { formatNumber, type Measurement } from "./stats.js";

export interface Comparison {
  label: string;
  ptc: number;
  baseline: number;
  unit: string;
  ratio: number;
  /** What the baseline is, e.g. "in-process" Pyodide or an "in-process handler". */
  baselineName: string;
}

export interface TargetCheck {
  label: string;
  value: number;
  limit: number;
  unit: string;
  met: boolean;
  /** Default "median". */
  statistic?: "median" | "p95";
}

export interface BenchReport {
  machine: MachineInfo;
  measurements: Measurement[];
  comparisons: Comparison[];
  targets: TargetCheck[];
  durationS: number;
  loadAverageAtEnd: number;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

export function formatTable(measurements: readonly Measurement[]): string {
  const labelWidth = Math.max(...measurements.map((row) => row.label.length + row.unit.length + 3));
  const header = `${pad("", labelWidth)} ${pad("median", 9, true)} ${pad("p95", 9, true)} ${pad("n", 4, true)}`;
  const lines = measurements.map((row) =>
    [
      pad(`${row.label} (${row.unit})`, labelWidth),
      pad(formatNumber(row.median), 9, true),
      pad(formatNumber(row.p95), 9, true),
      pad(String(row.n), 4, true),
      row.note ? `  ${row.note}` : "",
    ].join(" "),
  );
  return [header, ...lines].join("\n");
}

export function compare(
  measurements: readonly Measurement[],
  label: string,
  ptcKey: string,
  baselineKey: string,
  baselineName = "in-process",
): Comparison | null {
  const ptc = measurements.find((row) => row.key === ptcKey);
  const baseline = measurements.find((row) => row.key === baselineKey);
  if (!ptc || !baseline) return null;
  return {
    label,
    ptc: ptc.median,
    baseline: baseline.median,
    unit: ptc.unit,
    ratio: ptc.median / baseline.median,
    baselineName,
  };
}

export function checkTarget(
  measurements: readonly Measurement[],
  label: string,
  key: string,
  limit: number,
  statistic: "median" | "p95" = "median",
): TargetCheck | null {
  const row = measurements.find((each) => each.key === key);
  if (!row) return null;
  const value = row[statistic];
  return { label, value, limit, unit: row.unit, met: value <= limit, statistic };
}

/** A target on a comparison's ratio (ptc's median over its baseline's, same run), e.g. "≤ 1.5×". */
export function checkRatio(comparisons: readonly Comparison[], label: string, limit: number): TargetCheck | null {
  const comparison = comparisons.find((each) => each.label === label);
  if (!comparison) return null;
  return { label: `${label}, ratio`, value: comparison.ratio, limit, unit: "×", met: comparison.ratio <= limit };
}

/**
 * A row derived from two others' medians (`minuend - subtrahend`), e.g. the engine's overhead per call over
 * a bare sandbox process: n is 1, median and p95 are the difference.
 */
export function difference(
  measurements: readonly Measurement[],
  key: string,
  label: string,
  minuendKey: string,
  subtrahendKey: string,
): Measurement | null {
  return derived(measurements, key, label, [minuendKey, "−", subtrahendKey], (a, b) => a - b);
}

/**
 * A row derived as the sum of two others' medians (`first + second`), e.g. the floor of a design: a raw
 * crossing plus the in-process call. n is 1, median and p95 are the sum.
 */
export function total(
  measurements: readonly Measurement[],
  key: string,
  label: string,
  firstKey: string,
  secondKey: string,
): Measurement | null {
  return derived(measurements, key, label, [firstKey, "+", secondKey], (a, b) => a + b);
}

function derived(
  measurements: readonly Measurement[],
  key: string,
  label: string,
  [firstKey, operator, secondKey]: [string, string, string],
  combine: (first: number, second: number) => number,
): Measurement | null {
  const first = measurements.find((row) => row.key === firstKey);
  const second = measurements.find((row) => row.key === secondKey);
  if (!first || !second || first.unit !== second.unit) return null;
  const value = combine(first.median, second.median);
  const note = `${firstKey} ${operator} ${secondKey}, medians`;
  return { key, label, unit: first.unit, median: value, p95: value, n: 1, note };
}

export function formatReport(report: BenchReport): string {
  const comparisons = report.comparisons.map(
    (each) =>
      `${each.label}: ${formatNumber(each.ptc)} ${each.unit} vs ${formatNumber(each.baseline)} ${each.unit} ${each.baselineName} = ${each.ratio.toFixed(1)}×`,
  );
  const targets = report.targets.map(
    (each) =>
      `${each.met ? "MET   " : "MISSED"} ${each.label}: ${each.statistic === "p95" ? "p95" : "p50"} ${formatNumber(each.value)} ${each.unit} (target ≤ ${each.limit} ${each.unit})`,
  );
  return [
    formatTable(report.measurements),
    "",
    "ptc vs its baselines (medians, same run):",
    ...comparisons.map((line) => `  ${line}`),
    "",
    "targets:",
    ...targets.map((line) => `  ${line}`),
    "",
    `bench took ${report.durationS.toFixed(0)} s; load average ${report.loadAverageAtEnd.toFixed(2)} at the end`,
  ].join("\n");
}
