import type { Measured, RowResult } from '../types.js'

/** Three significant figures, thousands grouped: 0.0123, 12.3, 1,234. */
export function num (v: number): string {
  if (!Number.isFinite(v)) return String(v)
  const a = Math.abs(v)
  if (a >= 1000) return Math.round(v).toLocaleString('en-US')
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(3)
}

/** `12.3 (11.9–13.0)` or `unavailable: reason`. */
export function side (m: Measured): string {
  return m.ok ? `${num(m.stats.median)} (${num(m.stats.min)}–${num(m.stats.max)})` : `unavailable: ${m.reason}`
}

export function ratio (r: RowResult): string {
  return r.ratio === null ? '–' : `${num(r.ratio)}×`
}

export function unit (r: RowResult): string {
  return `${r.unit} (${r.better === 'lower' ? 'lower' : 'higher'} is better)`
}
