/** Small helpers for writing SVG by hand: escaping, numbers, the document frame. */
import type { RankGraph } from '../types.js'

export interface Point { x: number, y: number }

export function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Two decimals are plenty for pixels and keep the file short. */
export function num (n: number): string {
  return String(Math.round(n * 100) / 100)
}

/** Centred labels use `dy` rather than dominant-baseline, which some renderers ignore. */
const CENTRED = new Set(['rank', 'port', 'label', 'box-label', 'caption'])

export function text (p: Point, s: string, cls: string, extra = ''): string {
  const dy = CENTRED.has(cls) ? ' dy=".35em"' : ''
  return `<text x="${num(p.x)}" y="${num(p.y)}"${dy} class="${cls}"${extra}>${esc(s)}</text>`
}

export const NODE_R = 16

/** An axis-aligned box by its corners. */
export interface Box { minX: number, minY: number, maxX: number, maxY: number }

/** Font size in px of each text class; the style sheet below is written from the same numbers. */
export const FONT_PX = { rank: 11, label: 9, port: 8, 'box-label': 10, caption: 9 } as const
export type LabelClass = keyof typeof FONT_PX

/**
 * A generous estimate of a text's size (sans-serif averages about 0.55 em a character): the
 * layout keeps labels apart by these boxes, so erring wide only costs a little space.
 */
export function textSize (s: string, cls: LabelClass): { w: number, h: number } {
  const px = FONT_PX[cls]
  return { w: Math.max(1, [...s].length) * px * 0.62, h: px * 1.25 }
}

/** The box of a text centred on `p` (every label class is drawn centred). */
export function textBox (p: Point, s: string, cls: LabelClass): Box {
  const { w, h } = textSize(s, cls)
  return { minX: p.x - w / 2, minY: p.y - h / 2, maxX: p.x + w / 2, maxY: p.y + h / 2 }
}

const STYLE = `
  .node { fill: #f4f7fb; stroke: #2b5797; stroke-width: 1.5; }
  .hub { fill: #fde9c9; stroke: #b26b00; }
  .rank { font: bold ${FONT_PX.rank}px sans-serif; text-anchor: middle; fill: #12263f; }
  .label { font: ${FONT_PX.label}px sans-serif; text-anchor: middle; fill: #5a6b7f; }
  .box-label { font: ${FONT_PX['box-label']}px sans-serif; text-anchor: middle; fill: #12263f; }
  .port { font: ${FONT_PX.port}px sans-serif; text-anchor: middle; fill: #8a3b12; }
  .box { fill: #f4f7fb; stroke: #2b5797; stroke-width: 1.5; }
  .edge { stroke: #6b7c93; stroke-width: 1.3; fill: none; }
  .wrap { stroke: #6b7c93; stroke-width: 1.2; stroke-dasharray: 4 3; fill: none; }
  .cross { stroke: #2b5797; stroke-width: 1.4; fill: none; }
  .straight { stroke: #b8c2cf; stroke-width: 1.2; fill: none; }
  .title { font: bold 13px sans-serif; fill: #12263f; }
  .stage-label { font: bold 11px sans-serif; text-anchor: middle; fill: #12263f; }
  .caption { font: ${FONT_PX.caption}px sans-serif; text-anchor: middle; fill: #5a6b7f; }
  .note { font: 9px sans-serif; text-anchor: middle; fill: #5a6b7f; }
`

/**
 * Wraps drawn content (already in its own coordinates) into a complete SVG document, shifted
 * so that the bounding box plus a margin starts at the origin.
 */
export function frame (body: string[], box: Box, title: string): string {
  const margin = 40
  const top = 30
  // the title is not scaled with the picture, so the width makes room for it
  const w = Math.max(220, title.length * 13 * 0.62 + 24, box.maxX - box.minX + 2 * margin)
  const h = box.maxY - box.minY + 2 * margin + top
  const dx = margin - box.minX
  const dy = margin + top - box.minY
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(w)}" height="${num(h)}" viewBox="0 0 ${num(w)} ${num(h)}">`,
    `<style>${STYLE}</style>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">' +
      '<path d="M0,0 L10,5 L0,10 z" fill="#6b7c93"/></marker></defs>',
    '<rect width="100%" height="100%" fill="white"/>',
    text({ x: 12, y: 22 }, title, 'title'),
    `<g transform="translate(${num(dx)},${num(dy)})">`,
    ...body,
    '</g>',
    '</svg>'
  ].join('\n') + '\n'
}

export function boundsOf (points: Point[], pad = NODE_R + 14): Box {
  const xs = points.map((p) => p.x)
  const ys = points.map((p) => p.y)
  return {
    minX: Math.min(0, ...xs) - pad,
    minY: Math.min(0, ...ys) - pad,
    maxX: Math.max(0, ...xs) + pad,
    maxY: Math.max(0, ...ys) + pad
  }
}

export function titleOf (graph: RankGraph): string {
  const params = Object.entries(graph.params)
    .filter(([k]) => k !== 'nodes')
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join('×') : String(v)}`)
  return [`${graph.shape} — ${graph.size} rank${graph.size === 1 ? '' : 's'}`, ...params, graph.directed ? 'directed' : '']
    .filter((s) => s !== '').join(', ')
}

/** The smallest box holding all of `boxes` (an empty list gives a small box at the origin). */
export function unionOf (boxes: Box[]): Box {
  if (boxes.length === 0) return { minX: -NODE_R, minY: -NODE_R, maxX: NODE_R, maxY: NODE_R }
  return {
    minX: Math.min(...boxes.map((b) => b.minX)),
    minY: Math.min(...boxes.map((b) => b.minY)),
    maxX: Math.max(...boxes.map((b) => b.maxX)),
    maxY: Math.max(...boxes.map((b) => b.maxY))
  }
}

export function pointBox (p: Point, r = 0): Box {
  return { minX: p.x - r, minY: p.y - r, maxX: p.x + r, maxY: p.y + r }
}
