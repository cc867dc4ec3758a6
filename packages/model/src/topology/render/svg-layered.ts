import dagre from '@dagrejs/dagre'
import type { RankGraph } from '../types.js'
import { uniqueLinks } from './links.js'
import { frame, num, pointBox, text, textSize, titleOf, unionOf } from './svg-kit.js'
import type { Box, Point } from './svg-kit.js'

const NODE_H = 30
const PAD_X = 12

/** What a node box says: its rank, and its name when it has one. */
function boxText (rank: number, label: string | undefined): string {
  return label === undefined || label === String(rank) ? String(rank) : `${rank} · ${label}`
}

/**
 * A general graph drawn by dagre's layered layout, top to bottom in the direction of its
 * edges. Each rank is a box holding its number and name, so no edge can run under a name;
 * each link carries one label `out → in` (its two ports), for which dagre reserves room like
 * a node, so labels sit beside the edges rather than on them.
 */
export function renderLayeredSvg (graph: RankGraph): string {
  const g = new dagre.graphlib.Graph({ multigraph: true })
  g.setGraph({ rankdir: 'TB', nodesep: 40, ranksep: 46, edgesep: 16, marginx: 0, marginy: 0 })
  g.setDefaultEdgeLabel(() => ({}))
  for (const node of graph.ranks) {
    const { w } = textSize(boxText(node.rank, node.label), 'box-label')
    g.setNode(String(node.rank), { width: Math.max(NODE_H, w + 2 * PAD_X), height: NODE_H })
  }
  const links = uniqueLinks(graph)
  links.forEach((l, i) => {
    const size = textSize(portText(l.portA, l.portB, l.directed), 'port')
    // labelpos r puts the label beside the edge's midpoint instead of on it
    g.setEdge(String(l.a), String(l.b), { width: size.w, height: size.h, labelpos: 'r', labeloffset: 6, minlen: 1 }, `e${i}`)
  })
  dagre.layout(g)

  const extents: Box[] = []
  const edges: string[] = []
  const labels: string[] = []
  links.forEach((l, i) => {
    const e = g.edge(String(l.a), String(l.b), `e${i}`)
    const points: Point[] = (e?.points ?? []).map((p: Point) => ({ x: p.x, y: p.y }))
    if (points.length < 2) return
    for (const p of points) extents.push(pointBox(p))
    const marker = l.directed ? ' marker-end="url(#arrow)"' : ''
    const d = points.map((p, j) => `${j === 0 ? 'M' : 'L'}${num(p.x)},${num(p.y)}`).join(' ')
    edges.push(`<path d="${d}" class="edge" data-from="${l.a}" data-to="${l.b}"${marker}/>`)
    const s = portText(l.portA, l.portB, l.directed)
    if (typeof e?.x === 'number' && typeof e?.y === 'number') {
      const at = { x: e.x, y: e.y }
      const { w, h } = textSize(s, 'port')
      extents.push({ minX: at.x - w / 2, minY: at.y - h / 2, maxX: at.x + w / 2, maxY: at.y + h / 2 })
      labels.push(text(at, s, 'port'))
    }
  })

  const nodes = graph.ranks.map((node) => {
    const n = g.node(String(node.rank))
    const w = n?.width ?? NODE_H
    const h = n?.height ?? NODE_H
    const c = { x: n?.x ?? 0, y: n?.y ?? 0 }
    const box = { minX: c.x - w / 2, minY: c.y - h / 2, maxX: c.x + w / 2, maxY: c.y + h / 2 }
    extents.push(box)
    return `<g class="rank" data-rank="${node.rank}"><rect x="${num(box.minX)}" y="${num(box.minY)}" width="${num(w)}" height="${num(h)}" rx="8" class="box"/>` +
      text(c, boxText(node.rank, node.label), 'box-label') + '</g>'
  })
  return frame([...edges, ...nodes, ...labels], unionOf(extents), titleOf(graph))
}

function portText (from: string, to: string, directed: boolean): string {
  return `${from} ${directed ? '→' : '–'} ${to}`
}
