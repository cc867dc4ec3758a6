import type { Measured, RowResult, Stats } from './types.js'

/** Median and min/max; the median of an even count is the mean of the middle two. */
export function summarize (samples: readonly number[]): Stats {
  if (samples.length === 0) throw new RangeError('summarize: no samples')
  const s = [...samples].sort((x, y) => x - y)
  const mid = s.length >> 1
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length }
}

export function measured (samples: readonly number[], failure?: string): Measured {
  if (failure !== undefined && samples.length === 0) return { ok: false, reason: failure }
  if (samples.length === 0) return { ok: false, reason: 'no sample finished in the time budget' }
  return { ok: true, stats: summarize(samples), samples: [...samples] }
}

/** Figure / baseline, and its range from the two spreads. */
export function ratioOf (a: Measured, b: Measured): Pick<RowResult, 'ratio' | 'ratioRange'> {
  if (!a.ok || !b.ok || b.stats.median === 0 || b.stats.min === 0 || b.stats.max === 0) return { ratio: null, ratioRange: null }
  return {
    ratio: a.stats.median / b.stats.median,
    ratioRange: [a.stats.min / b.stats.max, a.stats.max / b.stats.min]
  }
}
