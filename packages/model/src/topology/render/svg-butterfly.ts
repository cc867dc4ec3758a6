import type { RankGraph } from '../types.js'
import { frame, num, text, titleOf } from './svg-kit.js'

const COL_W = 130
const ROW_H = 40
const DOT_R = 10

/**
 * A butterfly drawn as its stages: columns 0…log2(n) of ranks (one row per rank); between
 * column s and s+1 each rank keeps its own value (light straight line) and exchanges with its
 * stage-s partner (dark crossing line, the `stage<s>` port).
 */
export function renderButterflySvg (graph: RankGraph): string {
  const n = graph.size
  const stages = Number(graph.params.stages ?? Math.log2(n))
  const body: string[] = []
  const at = (col: number, row: number): { x: number, y: number } => ({ x: col * COL_W, y: row * ROW_H })

  for (let s = 0; s < stages; s++) {
    const mid = (at(s, 0).x + at(s + 1, 0).x) / 2
    body.push(text({ x: mid, y: -30 }, `stage ${s}`, 'stage-label'))
    body.push(text({ x: mid, y: -17 }, `port stage${s}: r ⊕ ${n >> (s + 1)}`, 'note'))
    for (const node of graph.ranks) {
      const link = node.ports.find((p) => p.port === `stage${s}`)
      const a = at(s, node.rank)
      const straight = at(s + 1, node.rank)
      body.push(`<line x1="${num(a.x + DOT_R)}" y1="${num(a.y)}" x2="${num(straight.x - DOT_R)}" y2="${num(straight.y)}" class="straight"/>`)
      if (link !== undefined) {
        const b = at(s + 1, link.peerRank)
        body.push(`<line x1="${num(a.x + DOT_R)}" y1="${num(a.y)}" x2="${num(b.x - DOT_R)}" y2="${num(b.y)}" class="cross"/>`)
      }
    }
  }
  for (let c = 0; c <= stages; c++) {
    const dots = graph.ranks.map((node) => {
      const p = at(c, node.rank)
      return `<circle cx="${num(p.x)}" cy="${num(p.y)}" r="${DOT_R}" class="node"/>` + text(p, String(node.rank), 'rank')
    })
    body.push(`<g class="column" data-column="${c}">${dots.join('')}</g>`)
  }
  body.push(text({ x: at(0, 0).x, y: n * ROW_H + 4 }, 'in', 'note'))
  body.push(text({ x: at(stages, 0).x, y: n * ROW_H + 4 }, 'out', 'note'))
  const box = { minX: -DOT_R - 10, minY: -46, maxX: stages * COL_W + DOT_R + 10, maxY: n * ROW_H + 10 }
  return frame(body, box, titleOf(graph))
}
