import type { RowResult } from '../types.js'
import { ratio, side } from './format.js'

const HEAD = ['row', 'figure', 'median (min–max)', 'baseline', 'median (min–max)', 'unit', 'ratio']

/** A plain-text table for the terminal; long reasons wrap into the cell's own line. */
export function renderTable (rows: RowResult[], width = 60): string {
  const cells = rows.map((r) => [r.id, r.figure, side(r.a), r.baseline, side(r.b), `${r.unit} ${r.better === 'lower' ? '↓' : '↑'}`, ratio(r)]
    .map((c) => c.length > width ? c.slice(0, width - 1) + '…' : c))
  const widths = HEAD.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)))
  const line = (c: string[]): string => c.map((v, i) => v.padEnd(widths[i]!)).join(' │ ').trimEnd()
  const out = [line(HEAD), widths.map((w) => '─'.repeat(w)).join('─┼─'), ...cells.map(line)]
  const notes = rows.filter((r) => r.note !== undefined || !r.a.ok || !r.b.ok)
  if (notes.length > 0) {
    out.push('', 'notes (↓ lower is better, ↑ higher is better; ratio = figure / baseline):')
    for (const r of notes) {
      if (!r.a.ok) out.push(`  ${r.id}: figure unavailable: ${r.a.reason}`)
      if (!r.b.ok) out.push(`  ${r.id}: baseline unavailable: ${r.b.reason}`)
      if (r.note !== undefined) out.push(`  ${r.id}: ${r.note}`)
    }
  }
  return out.join('\n')
}
