import type { RankGraph } from '../types.js'
import type { Point } from './svg-kit.js'

/** Where each rank sits, plus (for tori) which ports wrap and which way their stubs point. */
export interface Layout {
  positions: Point[]
  /** Direction of a stub for a wrap-around port, or undefined to draw the link as a line. */
  wrapStub?: (rank: number, port: string, peerRank: number) => Point | undefined
  /** Corner for rank labels, away from where this layout runs its edges (default `ne`). */
  labelCorner?: 'ne' | 'nw'
  /** Nodes sit on a circle: labels go outward from its centre. */
  radial?: boolean
  /**
   * Set when links are too many to name one by one: port labels are left off and this line,
   * saying how ports are named, is printed under the picture instead.
   */
  note?: string
}

const S = 90

export function layoutFor (graph: RankGraph): Layout {
  switch (graph.shape) {
    case 'ring': return { positions: circle(graph.size), radial: true }
    case 'line': return { positions: graph.ranks.map((_, i) => ({ x: i * S, y: 0 })) }
    case 'star': return star(graph.size)
    case 'mesh':
    case 'torus': return grid(graph)
    case 'tree': return tree(graph)
    case 'hypercube': return graph.size <= 8
      ? { positions: cube(graph.size), labelCorner: 'nw' }
      : { positions: circle(graph.size, 70, 64), radial: true, note: 'port dim<i> reaches rank r XOR 2^i' }
    case 'complete': return graph.size <= 3
      ? { positions: circle(graph.size), radial: true }
      : { positions: circle(graph.size, 70, 70), radial: true, note: 'port to<r> reaches rank r; group all sends to every other rank' }
    default: return { positions: circle(graph.size), radial: true }
  }
}

/** Rank 0 at the top, then clockwise, so a ring reads like a clock. */
function circle (n: number, minRadius = 70, spacing = 56): Point[] {
  const r = Math.max(minRadius, (n * spacing) / (2 * Math.PI))
  return Array.from({ length: n }, (_, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n
    return { x: r * Math.cos(a), y: r * Math.sin(a) }
  })
}

function star (n: number): Layout {
  const spokes = circle(Math.max(1, n - 1), 110)
  return { positions: [{ x: 0, y: 0 }, ...spokes.slice(0, n - 1)] }
}

/** Oblique projection: x right, y down, z up and to the right (a cube seen from the front). */
const Z_DIR: Point = { x: 0.55, y: -0.45 }

const PORT_DIRS: Record<string, Point> = {
  east: { x: 1, y: 0 },
  west: { x: -1, y: 0 },
  south: { x: 0, y: 1 },
  north: { x: 0, y: -1 },
  up: Z_DIR,
  down: { x: -Z_DIR.x, y: -Z_DIR.y }
}
const DIM_OF_PORT: Record<string, number> = { east: 0, west: 0, south: 1, north: 1, up: 2, down: 2 }

function grid (graph: RankGraph): Layout {
  const dims = (graph.params.dims as number[] | undefined) ?? [graph.size]
  const deep = (dims[2] ?? 1) > 1
  const step = deep ? S * 1.3 : S
  const width = dims[0] ?? 1
  // two columns wide: draw it as a cube; wider: put each layer beside the previous one
  const shift = width <= 2 ? { x: 0.5 * step, y: -0.4 * step } : { x: (width - 0.4) * step, y: -0.5 * step }
  const positions = graph.ranks.map((node) => {
    const [x = 0, y = 0, z = 0] = node.coords ?? []
    return { x: x * step + z * shift.x, y: y * step + z * shift.y }
  })
  const coords = graph.ranks.map((node) => node.coords ?? [])
  // a wrap link joins coordinates more than one apart, or is the second link of a size-2 ring
  const wrapStub = (rank: number, port: string, peerRank: number): Point | undefined => {
    const d = DIM_OF_PORT[port]
    if (d === undefined || graph.shape !== 'torus') return undefined
    const mine = coords[rank]?.[d] ?? 0
    const theirs = coords[peerRank]?.[d] ?? 0
    const forward = port === 'east' || port === 'south' || port === 'up'
    const wraps = forward ? theirs < mine : theirs > mine
    return wraps ? PORT_DIRS[port] : undefined
  }
  return { positions, wrapStub, labelCorner: deep ? 'nw' : 'ne' }
}

/** Heap-ordered tree: each level spread over the width the deepest level needs. */
function tree (graph: RankGraph): Layout {
  const k = Number(graph.params.arity ?? 2)
  const depth = Number(graph.params.depth ?? 0)
  // wider trees fan out more steeply: more room between leaves and levels for port names
  const slot = k > 2 ? 84 : 64
  const rise = k > 2 ? S * 1.3 : S
  const leaves = Math.pow(k, depth)
  const positions = graph.ranks.map((node) => {
    const [level = 0, index = 0] = node.coords ?? []
    const span = (leaves / Math.pow(k, level)) * slot
    return { x: (index + 0.5) * span, y: level * rise }
  })
  return { positions }
}

/** Hypercube of dimension ≤ 3: bit 0 → x, bit 1 → y, bit 2 → depth. */
function cube (n: number): Point[] {
  const side = S * 1.6
  return Array.from({ length: n }, (_, r) => {
    const bx = r & 1
    const by = (r >> 1) & 1
    const bz = (r >> 2) & 1
    return { x: bx * side + bz * side * 0.5, y: by * side - bz * side * 0.4 }
  })
}
