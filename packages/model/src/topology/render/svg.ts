import type { RankGraph } from '../types.js'
import { uniqueLinks } from './links.js'
import type { Link } from './links.js'
import { NODE_R, boundsOf, frame, num, text, titleOf } from './svg-kit.js'
import type { Point } from './svg-kit.js'
import { layoutFor } from './svg-layout.js'
import { renderButterflySvg } from './svg-butterfly.js'

/** Past this many port labels the picture is only clutter; the links still show. */
const MAX_PORT_LABELS = 160

/**
 * A picture of the topology as a standalone SVG document (no dependencies): rings as a
 * circle, lines as a row, meshes and tori as grids (wrap links as dashed stubs naming the
 * peer), trees by level, stars around their hub, small hypercubes as a cube, butterflies as
 * stages, anything else in a circle. Port names are small labels near each end of a link.
 */
export function renderSvg (graph: RankGraph): string {
  if (graph.shape === 'butterfly') return renderButterflySvg(graph)
  const layout = layoutFor(graph)
  const pos = layout.positions
  const links = uniqueLinks(graph)
  const showPorts = links.length * 2 <= MAX_PORT_LABELS
  const edges: string[] = []
  const labels: string[] = []
  const extra: Point[] = []

  // links joining the same pair (a ring of two, a 2-wide torus) are bent apart so both show
  const pairCount = new Map<string, number>()
  const pairSeen = new Map<string, number>()
  const pairKey = (l: Link): string => l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`
  for (const l of links) {
    if (layout.wrapStub?.(l.a, l.portA, l.b) === undefined) pairCount.set(pairKey(l), (pairCount.get(pairKey(l)) ?? 0) + 1)
  }

  for (const l of links) {
    const a = pos[l.a] ?? { x: 0, y: 0 }
    const b = pos[l.b] ?? { x: 0, y: 0 }
    const stubA = layout.wrapStub?.(l.a, l.portA, l.b)
    if (stubA !== undefined) {
      const stubB = layout.wrapStub?.(l.b, l.portB, l.a) ?? { x: -stubA.x, y: -stubA.y }
      for (const [from, dir, port, peer, peerPort] of [[a, stubA, l.portA, l.b, l.portB], [b, stubB, l.portB, l.a, l.portA]] as const) {
        const start = along(from, dir, NODE_R)
        const end = along(from, dir, 44)
        extra.push(along(from, dir, 58))
        edges.push(`<line x1="${num(start.x)}" y1="${num(start.y)}" x2="${num(end.x)}" y2="${num(end.y)}" class="wrap"/>`)
        labels.push(text(along(from, dir, 54), `${peer}.${peerPort}`, 'port'))
        if (showPorts) labels.push(text(offset(along(from, dir, 26), dir, 7), port, 'port'))
      }
      continue
    }
    const key = pairKey(l)
    const count = pairCount.get(key) ?? 1
    const index = pairSeen.get(key) ?? 0
    pairSeen.set(key, index + 1)
    // bend direction is fixed per pair (from lower to higher rank) so two links bend apart
    const sign = l.a < l.b ? 1 : -1
    const bend = count > 1 ? (index - (count - 1) / 2) * 36 * sign : 0
    const curve = quad(a, b, bend)
    const marker = l.directed ? ' marker-end="url(#arrow)"' : ''
    edges.push(`<path d="${curve.d}" class="edge"${marker}/>`)
    if (showPorts) {
      const side = labelSide(a, b)
      labels.push(text(offset(curve.at(0.32), side, 7), l.portA, 'port'))
      labels.push(text(offset(curve.at(0.68), side, 7), l.portB, 'port'))
    }
  }

  const nodes = graph.ranks.map((node) => {
    const p = pos[node.rank] ?? { x: 0, y: 0 }
    const hub = graph.shape === 'star' && node.rank === 0 ? ' hub' : ''
    const parts = [
      `<circle cx="${num(p.x)}" cy="${num(p.y)}" r="${NODE_R}" class="node${hub}"/>`,
      text(p, String(node.rank), 'rank')
    ]
    // top-right of the node: grids and trees never run an edge through that corner
    if (node.label !== undefined) {
      const west = layout.labelCorner === 'nw'
      parts.push(text({ x: p.x + NODE_R * (west ? -0.75 : 0.75), y: p.y - NODE_R * 0.95 }, node.label, west ? 'label nw' : 'label'))
    }
    return `<g class="rank" data-rank="${node.rank}">${parts.join('')}</g>`
  })

  const box = boundsOf([...pos, ...extra])
  return frame([...edges, ...nodes, ...labels], box, titleOf(graph))
}

function along (p: Point, dir: Point, dist: number): Point {
  const len = Math.hypot(dir.x, dir.y) || 1
  return { x: p.x + (dir.x / len) * dist, y: p.y + (dir.y / len) * dist }
}

/**
 * The direction, as a vector along the link, whose normal points up (or right for vertical
 * links): labels then sit above horizontal links and right of vertical ones, off the stroke.
 */
function labelSide (a: Point, b: Point): Point {
  const n = { x: -(b.y - a.y), y: b.x - a.x }
  const flip = n.y > 0 || (Math.abs(n.y) < 1e-9 && n.x < 0)
  return flip ? { x: a.x - b.x, y: a.y - b.y } : { x: b.x - a.x, y: b.y - a.y }
}

/** Nudges a label sideways from its line so it does not sit on the stroke. */
function offset (p: Point, dir: Point, dist: number): Point {
  return along(p, { x: -dir.y, y: dir.x }, dist)
}

/**
 * A quadratic curve from a to b bent by `bend` pixels, trimmed to the node circles so arrow
 * heads land on the rim rather than under the node.
 */
function quad (a: Point, b: Point, bend: number): { d: string, at: (t: number) => Point } {
  const dx = b.x - a.x
  const dy = b.y - a.y
  const len = Math.hypot(dx, dy) || 1
  const mid = { x: (a.x + b.x) / 2 - (dy / len) * bend * 2, y: (a.y + b.y) / 2 + (dx / len) * bend * 2 }
  const at = (t: number): Point => ({
    x: (1 - t) * (1 - t) * a.x + 2 * (1 - t) * t * mid.x + t * t * b.x,
    y: (1 - t) * (1 - t) * a.y + 2 * (1 - t) * t * mid.y + t * t * b.y
  })
  const start = along(a, { x: mid.x - a.x, y: mid.y - a.y }, NODE_R)
  const end = along(b, { x: mid.x - b.x, y: mid.y - b.y }, NODE_R + 1)
  return { d: `M${num(start.x)},${num(start.y)} Q${num(mid.x)},${num(mid.y)} ${num(end.x)},${num(end.y)}`, at }
}
