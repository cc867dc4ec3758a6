import { BadRequestError, shortPeerId } from '@mvm/core'

/** A node as `--node` names it: its peer ID, short ID (`12D3…abcd`), a unique prefix (4+ characters) or its `name` label. */
export function matchNodes<T extends { peerId: string, labels?: Record<string, string> }> (query: string, nodes: readonly T[]): T[] {
  const q = query.trim()
  if (q === '') throw new BadRequestError('node: empty; give a peer ID, a short ID, a unique prefix or a name label')
  const exact = nodes.filter((n) => n.peerId === q || n.labels?.name === q || shortPeerId(n.peerId) === q)
  if (exact.length > 0) return dedupe(exact)
  return q.length >= 4 ? dedupe(nodes.filter((n) => n.peerId.startsWith(q))) : []
}

function dedupe<T extends { peerId: string }> (xs: T[]): T[] {
  const seen = new Set<string>()
  return xs.filter((x) => !seen.has(x.peerId) && seen.add(x.peerId) !== undefined)
}
