import type { RowResult } from '../types.js'
import { num } from './format.js'

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/**
 * One horizontal bar per row: the ratio on a log scale around 1× (the baseline), with a
 * whisker for the range the two spreads allow. Bars are oriented so right is always "worse
 * than the baseline": for higher-is-better figures the inverse ratio is drawn.
 */
export function renderSvg (rows: RowResult[]): string {
  const W = 900
  const LABEL = 330
  const ROW = 26
  const TOP = 50
  const plotW = W - LABEL - 90
  const H = TOP + Math.max(rows.length, 1) * ROW + 40
  const worse = (r: RowResult, v: number): number => r.better === 'lower' ? v : 1 / v
  const avail = rows.filter((r) => r.ratio !== null)
  const logs = avail.flatMap((r) => [r.ratio!, ...r.ratioRange!].map((v) => Math.log10(worse(r, v))))
  // a ratio of 0 (nothing moved where the baseline moves a file) is drawn at the scale's edge
  const span = Math.max(1, Math.ceil(Math.max(0, ...logs.filter(Number.isFinite).map(Math.abs))))
  const x = (v: number): number => LABEL + ((Math.min(span, Math.max(-span, Math.log10(v))) + span) / (2 * span)) * plotW
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">MVM bench: figure / baseline (log scale; left of 1× = better than the baseline)</text>`
  ]
  for (let e = -span; e <= span; e++) {
    const gx = x(10 ** e)
    parts.push(`<line x1="${gx}" y1="${TOP - 8}" x2="${gx}" y2="${H - 30}" stroke="${e === 0 ? '#333' : '#ddd'}"/>`,
      `<text x="${gx}" y="${H - 14}" text-anchor="middle">${num(10 ** e)}×</text>`)
  }
  rows.forEach((r, i) => {
    const y = TOP + i * ROW
    parts.push(`<text x="${LABEL - 8}" y="${y + 14}" text-anchor="end">${esc(r.id)}</text>`)
    if (r.ratio === null) {
      parts.push(`<text x="${x(1) + 6}" y="${y + 14}" fill="#999">unavailable</text>`)
      return
    }
    const v = worse(r, r.ratio)
    const [lo, hi] = r.ratioRange!.map((q) => worse(r, q)).sort((p, q) => p - q) as [number, number]
    const x0 = Math.min(x(1), x(v))
    parts.push(`<rect x="${x0}" y="${y + 3}" width="${Math.max(1, Math.abs(x(v) - x(1)))}" height="${ROW - 8}" fill="${v <= 1 ? '#4c9f70' : '#d1495b'}"/>`,
      `<line x1="${x(lo)}" y1="${y + ROW / 2 - 1}" x2="${x(hi)}" y2="${y + ROW / 2 - 1}" stroke="#222"/>`,
      `<text x="${Math.max(x(v), x(1), x(hi)) + 6}" y="${y + 14}">${num(r.ratio)}× ${r.better === 'lower' ? '↓' : '↑'}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
