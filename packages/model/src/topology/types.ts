/**
 * The expanded form of a topology: what the runtime wires and what programs see as ports.
 * A topology file is never code; the model turns it into this graph, and nothing else in
 * the toolkit needs to know which shape it came from.
 */
export type ShapeName =
  | 'ring' | 'line' | 'star' | 'mesh' | 'torus' | 'tree' | 'hypercube' | 'butterfly' | 'complete' | 'graph'

/** One end of a link as seen from a rank: my port `port` reaches `peerRank`'s port `peerPort`. */
export interface PortLink {
  port: string
  peerRank: number
  peerPort: string
  /** `out` = I only send on it, `in` = I only receive, `both` = either (undirected edges). */
  direction: 'in' | 'out' | 'both'
}

export interface RankNode {
  rank: number
  /** Optional human label (graph node name, mesh coordinates such as `1,2`). */
  label?: string
  /** Mesh/torus coordinates, tree depth, butterfly stage position: used for layout only. */
  coords?: number[]
  ports: PortLink[]
}

export interface RankGraph {
  shape: ShapeName
  size: number
  /** Whether edges are one-way (a `line` pipeline or a directed graph) or two-way. */
  directed: boolean
  ranks: RankNode[]
  /**
   * Named port groups for one-to-many sends, per rank: e.g. `{ spokes: ['spoke0', …] }` on a
   * star hub, `{ children: ['child0', 'child1'] }` on a tree node. A send to a group name
   * sends to every port in it.
   */
  groups: Array<Record<string, string[]>>
  /** Shape-specific dimensions as resolved (e.g. `{ dims: [4, 4] }`, `{ arity: 2 }`, `{ stages: 3 }`). */
  params: Record<string, unknown>
}
