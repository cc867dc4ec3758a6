import type { RowResult } from '../types.js'
import type { RunMeta } from './json.js'
import { ratio, side, unit } from './format.js'

const esc = (s: string): string => s.replace(/\|/g, '\\|')

/** The Markdown report: the command, the machine, one table row per figure, then the notes. */
export function renderMarkdown (rows: RowResult[], meta: RunMeta): string {
  const out = [
    `Measured with \`${meta.command}\` on ${meta.date} (${meta.cpus} × ${meta.cpuModel}, Node ${meta.node}, ${meta.quick ? 'quick' : 'full'} run).`,
    'Figure and baseline are sampled interleaved (A B A B …) in the same run; medians with (min–max); ratio = figure / baseline.',
    '',
    '| row | figure | median (min–max) | baseline | median (min–max) | unit | ratio |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.id} | ${esc(r.figure)} | ${esc(side(r.a))} | ${esc(r.baseline)} | ${esc(side(r.b))} | ${unit(r)} | ${ratio(r)} |`)
  ]
  const notes = rows.filter((r) => r.note !== undefined)
  if (notes.length > 0) out.push('', ...notes.map((r) => `- ${r.id}: ${r.note!}`))
  return out.join('\n') + '\n'
}
