// Figures the benchmarks print: percentiles of timings.

/** The nearest-rank percentile `p` (0–100) of `values` (not changed; sorted in a copy). */
export function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
