/** One benchmark row: a summary of repeated samples. Medians are the headline; noise moves p95. */
export interface Measurement {
  key: string;
  label: string;
  unit: "ms" | "µs" | "s" | "MiB" | "exec/s" | "containers/GiB" | "count";
  median: number;
  p95: number;
  n: number;
  note?: string;
}

export function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[middle] ?? Number.NaN)
    : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Nearest-rank percentile: with few samples p95 is simply the worst (or second worst) one. */
export function percentile(samples: readonly number[], fraction: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return sorted[rank - 1] ?? Number.NaN;
}

export function summarize(
  key: string,
  label: string,
  unit: Measurement["unit"],
  samples: readonly number[],
  note?: string,
): Measurement {
  return {
    key,
    label,
    unit,
    median: median(samples),
    p95: percentile(samples, 0.95),
    n: samples.length,
    ...(note ? { note } : {}),
  };
}

export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return "—";
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function elapsedMs(since: number): number {
  return performance.now() - since;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Errors from Pyodide can carry its minified source; only a short message is ever printed. */
export function shortError(error: unknown, limit = 400): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > limit ? `${message.slice(0, limit)}…` : message;
}
