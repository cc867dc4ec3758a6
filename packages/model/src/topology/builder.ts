import { TopologyError } from './errors.js'
import type { SpecPath } from './errors.js'
import type { PortLink, RankGraph, RankNode, ShapeName } from './types.js'

/**
 * Collects links while keeping every one symmetric: `link()` writes both ends at once, so no
 * shape can produce a port that reaches a peer which does not reach back.
 */
export class GraphBuilder {
  private readonly nodes: RankNode[]
  private readonly groups: Array<Record<string, string[]>>

  constructor (readonly size: number) {
    this.nodes = Array.from({ length: size }, (_, rank) => ({ rank, ports: [] }))
    this.groups = Array.from({ length: size }, () => ({}))
  }

  node (rank: number): RankNode {
    const n = this.nodes[rank]
    if (n === undefined) throw new RangeError(`rank ${rank} is outside 0..${this.size - 1}`)
    return n
  }

  hasPort (rank: number, port: string): boolean {
    return this.node(rank).ports.some((p) => p.port === port)
  }

  /**
   * Adds `a.portA <-> b.portB`. With `directed`, `a` only sends on `portA` and `b` only
   * receives on `portB`. `where` is the spec path blamed if a port is taken twice.
   */
  link (a: number, portA: string, b: number, portB: string, directed = false, where: SpecPath = []): void {
    if (a === b && portA === portB) {
      throw new TopologyError(where, `rank ${a} cannot link port '${portA}' to itself`)
    }
    for (const [rank, port] of [[a, portA], [b, portB]] as const) {
      if (this.hasPort(rank, port)) throw new TopologyError(where, `port '${port}' of rank ${rank} is used twice`)
    }
    const out: PortLink = { port: portA, peerRank: b, peerPort: portB, direction: directed ? 'out' : 'both' }
    const back: PortLink = { port: portB, peerRank: a, peerPort: portA, direction: directed ? 'in' : 'both' }
    this.node(a).ports.push(out)
    this.node(b).ports.push(back)
  }

  group (rank: number, name: string, ports: string[]): void {
    const g = this.groups[rank]
    if (g !== undefined && ports.length > 0) g[name] = ports
  }

  label (rank: number, label: string, coords?: number[]): void {
    const n = this.node(rank)
    n.label = label
    if (coords !== undefined) n.coords = coords
  }

  /**
   * `first` lists port names that lead each rank's port list (e.g. `parent` before children);
   * the rest follow in natural order (`spoke2` before `spoke10`) so listings read predictably.
   */
  build (shape: ShapeName, directed: boolean, params: Record<string, unknown>, first: readonly string[] = []): RankGraph {
    const order = (p: string): number => { const i = first.indexOf(p); return i < 0 ? first.length : i }
    for (const node of this.nodes) {
      node.ports.sort((x, y) => order(x.port) - order(y.port) || NATURAL.compare(x.port, y.port))
    }
    return { shape, size: this.size, directed, ranks: this.nodes, groups: this.groups, params }
  }
}

const NATURAL = new Intl.Collator('en', { numeric: true })

export function isPowerOfTwo (n: number): boolean {
  return Number.isInteger(n) && n >= 1 && (n & (n - 1)) === 0
}

export function log2 (n: number): number {
  return Math.round(Math.log2(n))
}
