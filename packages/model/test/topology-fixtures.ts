import type { RankGraph } from '@mvm/model'

/** Every link must be seen from both ends with mirrored direction; returns the problems found. */
export function asymmetries (g: RankGraph): string[] {
  const problems: string[] = []
  const mirror = { in: 'out', out: 'in', both: 'both' } as const
  for (const node of g.ranks) {
    const names = node.ports.map((p) => p.port)
    if (new Set(names).size !== names.length) problems.push(`rank ${node.rank} has a duplicate port`)
    for (const p of node.ports) {
      const peer = g.ranks[p.peerRank]
      const back = peer?.ports.find((q) => q.port === p.peerPort)
      if (back === undefined) problems.push(`${node.rank}.${p.port} → ${p.peerRank}.${p.peerPort} has no way back`)
      else if (back.peerRank !== node.rank || back.peerPort !== p.port) problems.push(`${node.rank}.${p.port} is not mirrored`)
      else if (back.direction !== mirror[p.direction]) problems.push(`${node.rank}.${p.port} direction is not mirrored`)
    }
  }
  return problems
}

/** Undirected reachability from rank 0 (a directed pipeline is still one piece). */
export function isConnected (g: RankGraph): boolean {
  const seen = new Set<number>([0])
  const todo = [0]
  while (todo.length > 0) {
    const r = todo.pop() as number
    for (const p of g.ranks[r]?.ports ?? []) {
      if (!seen.has(p.peerRank)) { seen.add(p.peerRank); todo.push(p.peerRank) }
    }
  }
  return seen.size === g.size
}

export function degrees (g: RankGraph): number[] {
  return g.ranks.map((n) => n.ports.length)
}

/** `{ port: 'peerRank.peerPort' }` for one rank, the form the hand-written cases use. */
export function portsOf (g: RankGraph, rank: number): Record<string, string> {
  return Object.fromEntries((g.ranks[rank]?.ports ?? []).map((p) => [p.port, `${p.peerRank}.${p.peerPort}`]))
}

export function linkCount (g: RankGraph): number {
  return g.ranks.reduce((a, n) => a + n.ports.length, 0) / 2
}
