/** Percentiles of latencies (nearest-rank), for the simulation report. */

export interface LatencySummary {
  count: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

/** Nearest-rank percentile of an ascending-sorted array; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export function summarizeLatencies(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  return {
    count: arr.length,
    p50Ms: percentile(arr, 50),
    p95Ms: percentile(arr, 95),
    p99Ms: percentile(arr, 99),
    maxMs: arr.length > 0 ? arr[arr.length - 1]! : null,
  };
}
