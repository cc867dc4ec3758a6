import type { RankGraph } from '../types.js'
import { uniqueLinks } from './links.js'
import type { Link } from './links.js'
import { NODE_R, frame, num, pointBox, text, textBox, titleOf, unionOf } from './svg-kit.js'
import type { Box, Point } from './svg-kit.js'
import { layoutFor } from './svg-layout.js'
import { renderButterflySvg } from './svg-butterfly.js'
import { renderLayeredSvg } from './svg-layered.js'
import { LabelPlacer, besideLine, besideNode, beyond, compass, unit } from './svg-place.js'

/** Past this many port labels the picture is only clutter; the links still show. */
const MAX_PORT_LABELS = 80

/** Where a port label may go along its link, nearest its own end first. */
const PORT_T = [0.3, 0.38, 0.24, 0.45, 0.2, 0.5, 0.58]

/**
 * A picture of the topology as a standalone SVG document: rings as a circle, lines as a row,
 * meshes and tori as grids (wrap links as dashed stubs naming the peer), trees by level,
 * stars around their hub, small hypercubes as a cube, butterflies as stages, complete graphs
 * and large hypercubes as a circle of chords (port naming in a note instead of on every link),
 * general graphs by a layered layout (dagre). Labels are placed where no node, edge or other
 * label is.
 */
export function renderSvg (graph: RankGraph): string {
  if (graph.shape === 'butterfly') return renderButterflySvg(graph)
  if (graph.shape === 'graph') return renderLayeredSvg(graph)
  const layout = layoutFor(graph)
  const pos = (r: number): Point => layout.positions[r] ?? { x: 0, y: 0 }
  const links = uniqueLinks(graph)
  const showPorts = layout.note === undefined && links.length * 2 <= MAX_PORT_LABELS
  const placer = new LabelPlacer()
  const edges: string[] = []
  const labels: string[] = []
  const extents: Box[] = []
  const portJobs: Array<() => void> = []
  const stubJobs: Array<() => void> = []

  for (const node of graph.ranks) {
    placer.addCircle(pos(node.rank), NODE_R)
    extents.push(pointBox(pos(node.rank), NODE_R))
  }
  const label = (s: string, cls: 'port' | 'label', candidates: Point[]): void => {
    const placed = placer.place(s, cls, candidates)
    labels.push(text(placed.at, s, cls))
    extents.push(placed.box)
  }

  // links joining the same pair (a ring of two, a 2-wide torus) are bent apart so both show
  const pairKey = (l: Link): string => l.a < l.b ? `${l.a}-${l.b}` : `${l.b}-${l.a}`
  const pairCount = new Map<string, number>()
  const pairSeen = new Map<string, number>()
  for (const l of links) {
    if (layout.wrapStub?.(l.a, l.portA, l.b) === undefined) pairCount.set(pairKey(l), (pairCount.get(pairKey(l)) ?? 0) + 1)
  }

  for (const l of links) {
    const a = pos(l.a)
    const b = pos(l.b)
    const stubA = layout.wrapStub?.(l.a, l.portA, l.b)
    if (stubA !== undefined) {
      const stubB = layout.wrapStub?.(l.b, l.portB, l.a) ?? { x: -stubA.x, y: -stubA.y }
      for (const [rank, dir, port, peer, peerPort] of [[l.a, stubA, l.portA, l.b, l.portB], [l.b, stubB, l.portB, l.a, l.portA]] as const) {
        const from = pos(rank)
        const start = along(from, dir, NODE_R)
        const end = along(from, dir, 44)
        placer.addPolyline([start, end])
        extents.push(pointBox(end))
        edges.push(`<line x1="${num(start.x)}" y1="${num(start.y)}" x2="${num(end.x)}" y2="${num(end.y)}" class="wrap" data-from="${rank}"/>`)
        const peerName = `${peer}.${peerPort}`
        stubJobs.push(() => label(peerName, 'port', [beyond(end, dir, peerName, 'port')]))
        if (showPorts) {
          portJobs.push(() => label(port, 'port', [1, -1].flatMap((side) =>
            [24, 30].map((d) => besideLine(along(from, dir, d), dir, side as 1 | -1, port, 'port')))))
        }
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
    placer.addPolyline(curve.samples)
    const marker = l.directed ? ' marker-end="url(#arrow)"' : ''
    edges.push(`<path d="${curve.d}" class="edge" data-from="${l.a}" data-to="${l.b}"${marker}/>`)
    if (showPorts) {
      const side = preferredSide(a, b)
      for (const [port, ts] of [[l.portA, PORT_T], [l.portB, PORT_T.map((t) => 1 - t)]] as const) {
        portJobs.push(() => label(port, 'port', [side, -side as 1 | -1].flatMap((s) =>
          ts.map((t) => besideLine(curve.at(t), curve.tangent(t), s as 1 | -1, port, 'port')))
          .concat(ts.map((t) => besideLine(curve.at(t), curve.tangent(t), side, port, 'port', 5)))))
      }
    }
  }

  // node labels first: they name the ranks, port labels fit around them
  const centre = layout.radial === true ? mean(layout.positions) : undefined
  for (const node of graph.ranks) {
    if (node.label === undefined) continue
    const p = pos(node.rank)
    const dirs = centre === undefined ? compass(layout.labelCorner) : radialDirs(p, centre)
    // then all round, a little further out: a hub's spokes may take every compass point
    const around = Array.from({ length: 16 }, (_, i) => ({ x: Math.cos(i * Math.PI / 8 + Math.PI / 16), y: Math.sin(i * Math.PI / 8 + Math.PI / 16) }))
    label(node.label, 'label', [
      ...besideNode(p, NODE_R, node.label, 'label', dirs),
      ...besideNode(p, NODE_R, node.label, 'label', around),
      ...[8, 18, 30].flatMap((d) => besideNode(p, NODE_R + d, node.label as string, 'label', around))
    ])
  }
  for (const job of [...stubJobs, ...portJobs]) job()

  const nodes = graph.ranks.map((node) => {
    const p = pos(node.rank)
    const hub = graph.shape === 'star' && node.rank === 0 ? ' hub' : ''
    return `<g class="rank" data-rank="${node.rank}"><circle cx="${num(p.x)}" cy="${num(p.y)}" r="${NODE_R}" class="node${hub}"/>${text(p, String(node.rank), 'rank')}</g>`
  })
  if (layout.note !== undefined) {
    const drawn = unionOf(extents)
    const at = { x: (drawn.minX + drawn.maxX) / 2, y: drawn.maxY + 16 }
    labels.push(text(at, layout.note, 'caption'))
    extents.push(textBox(at, layout.note, 'caption'))
  }
  return frame([...edges, ...nodes, ...labels], unionOf(extents), titleOf(graph))
}

function along (p: Point, dir: Point, dist: number): Point {
  const u = unit(dir)
  return { x: p.x + u.x * dist, y: p.y + u.y * dist }
}

function mean (ps: Point[]): Point {
  const n = Math.max(1, ps.length)
  return { x: ps.reduce((s, p) => s + p.x, 0) / n, y: ps.reduce((s, p) => s + p.y, 0) / n }
}

/** Outward from the centre first, then turning a little either way. */
function radialDirs (p: Point, c: Point): Point[] {
  const base = Math.atan2(p.y - c.y, p.x - c.x)
  return [0, 0.5, -0.5, 1, -1].map((d) => ({ x: Math.cos(base + d), y: Math.sin(base + d) }))
}

/** Above horizontal links and right of vertical ones reads best; the placer may flip it. */
function preferredSide (a: Point, b: Point): 1 | -1 {
  const u = unit({ x: b.x - a.x, y: b.y - a.y })
  // besideLine's normal for side 1 is (-u.y, u.x)
  const n = { x: -u.y, y: u.x }
  if (Math.abs(n.y) > 1e-9) return n.y < 0 ? 1 : -1
  return n.x > 0 ? 1 : -1
}

/**
 * A quadratic curve from a to b bent by `bend` pixels, trimmed to the node circles so arrow
 * heads land on the rim rather than under the node; `samples` approximate it for the placer.
 */
function quad (a: Point, b: Point, bend: number): { d: string, at: (t: number) => Point, tangent: (t: number) => Point, samples: Point[] } {
  const dx = b.x - a.x
  const dy = b.y - a.y
  const len = Math.hypot(dx, dy) || 1
  const mid = { x: (a.x + b.x) / 2 - (dy / len) * bend * 2, y: (a.y + b.y) / 2 + (dx / len) * bend * 2 }
  const at = (t: number): Point => ({
    x: (1 - t) * (1 - t) * a.x + 2 * (1 - t) * t * mid.x + t * t * b.x,
    y: (1 - t) * (1 - t) * a.y + 2 * (1 - t) * t * mid.y + t * t * b.y
  })
  const tangent = (t: number): Point => ({
    x: 2 * (1 - t) * (mid.x - a.x) + 2 * t * (b.x - mid.x),
    y: 2 * (1 - t) * (mid.y - a.y) + 2 * t * (b.y - mid.y)
  })
  const start = along(a, { x: mid.x - a.x, y: mid.y - a.y }, NODE_R)
  const end = along(b, { x: mid.x - b.x, y: mid.y - b.y }, NODE_R + 1)
  const samples = bend === 0 ? [start, end] : Array.from({ length: 13 }, (_, i) => at(i / 12))
  const d = bend === 0
    ? `M${num(start.x)},${num(start.y)} L${num(end.x)},${num(end.y)}`
    : `M${num(start.x)},${num(start.y)} Q${num(mid.x)},${num(mid.y)} ${num(end.x)},${num(end.y)}`
  return { d, at, tangent, samples }
}
