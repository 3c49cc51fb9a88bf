/** A value and how many times it was seen. */
export interface HistogramBin {
  readonly value: number;
  readonly count: number;
}

/**
 * The continuous percentile of the values a histogram counts, interpolated as PostgreSQL's `percentile_cont`
 * does over the values themselves: the value at position `fraction × (n − 1)` of the sorted values. A database
 * hands back a month's millions of lags as a few thousand bins (store/report-repo.ts), where sorting the
 * lags themselves spilled to disk. Null when the histogram counts nothing.
 * @example percentileOfHistogram([{ value: 1, count: 2 }, { value: 3, count: 2 }], 0.5) // 2
 */
export function percentileOfHistogram(bins: readonly HistogramBin[], fraction: number): number | null {
  const sorted = bins.filter((bin) => bin.count > 0).sort((a, b) => a.value - b.value);
  const total = sorted.reduce((sum, bin) => sum + bin.count, 0);
  if (total === 0) return null;
  const position = fraction * (total - 1);
  const lower = valueAt(sorted, Math.floor(position));
  const upper = valueAt(sorted, Math.ceil(position));
  return lower + (upper - lower) * (position - Math.floor(position));
}

/** The value at a 0-based index of the sorted values the bins count. */
function valueAt(sorted: readonly HistogramBin[], index: number): number {
  let seen = 0;
  for (const bin of sorted) {
    seen += bin.count;
    if (index < seen) return bin.value;
  }
  return sorted[sorted.length - 1]!.value;
}
