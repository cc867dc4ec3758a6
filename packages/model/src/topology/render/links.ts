import type { RankGraph } from '../types.js'

/** One link drawn once: from `a.portA` to `b.portB`; for directed graphs `a` is the sender. */
export interface Link { a: number, portA: string, b: number, portB: string, directed: boolean }

/**
 * Every link exactly once. Each link is stored on both of its ranks; keep the side that sends
 * (directed) or the lexically smaller end (undirected).
 */
export function uniqueLinks (graph: RankGraph): Link[] {
  const out: Link[] = []
  for (const node of graph.ranks) {
    for (const p of node.ports) {
      const keep = p.direction === 'out' ||
        (p.direction === 'both' && (node.rank < p.peerRank || (node.rank === p.peerRank && p.port < p.peerPort)))
      if (keep) out.push({ a: node.rank, portA: p.port, b: p.peerRank, portB: p.peerPort, directed: p.direction === 'out' })
    }
  }
  return out
}

export function rankName (graph: RankGraph, rank: number): string {
  const label = graph.ranks[rank]?.label
  return label === undefined ? String(rank) : `${rank} (${label})`
}
