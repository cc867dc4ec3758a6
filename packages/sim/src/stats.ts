/** Percentile of an ascending array by nearest rank; NaN for an empty one. */
export function percentile (sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}

export interface Spread { mean: number, max: number, p50: number, p99: number }

export function spread (values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b)
  const mean = s.length === 0 ? 0 : s.reduce((a, b) => a + b, 0) / s.length
  return { mean, max: s[s.length - 1] ?? 0, p50: percentile(s, 50), p99: percentile(s, 99) }
}
