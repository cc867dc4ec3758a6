/**
 * The super-peer tree of a simulated community: group 0 is the root, and group i (i > 0) has
 * group floor((i - 1) / fanout) as its parent, so no super-peer has more than `fanout` child
 * super-peers (the bounded-children policy) and the depth grows as log_fanout(groups).
 */
export interface GroupTree {
  names: string[]
  parent: Array<number | undefined>
  depth: number
  maxChildren: number
}

export function groupTree (groups: number, fanout: number): GroupTree {
  const names = Array.from({ length: groups }, (_, i) => `g${i}`)
  const parent = names.map((_, i) => i === 0 ? undefined : Math.floor((i - 1) / fanout))
  const level = new Array<number>(groups).fill(0)
  const children = new Array<number>(groups).fill(0)
  for (let i = 1; i < groups; i++) { const p = parent[i]!; level[i] = level[p]! + 1; children[p]!++ }
  return { names, parent, depth: Math.max(0, ...level), maxChildren: Math.max(0, ...children) }
}

/** The smallest fanout that keeps the tree within `depth` levels below the root. */
export function fanoutForDepth (groups: number, depth: number): number {
  let f = 1
  while (groupTree(groups, f).depth > depth) f++
  return f
}
