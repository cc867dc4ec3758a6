import { GraphBuilder } from '../builder.js'
import type { TreeSpec } from '../schema.js'
import type { RankGraph } from '../types.js'

/**
 * k-ary tree in heap order: rank r's children are k·r+1 … k·r+k (those below size), its parent
 * is ⌊(r-1)/k⌋. Child i of r is on port `child<i>` and sees r on `parent`. The root has no
 * `parent`; leaves have no children and no `children` group.
 */
export function expandTree (spec: TreeSpec): RankGraph {
  const n = spec.size
  const k = spec.arity
  const b = new GraphBuilder(n)
  let depth = 0
  for (let r = 0; r < n; r++) {
    const children: string[] = []
    for (let i = 0; i < k; i++) {
      const c = k * r + 1 + i
      if (c >= n) break
      b.link(r, `child${i}`, c, 'parent')
      children.push(`child${i}`)
    }
    b.group(r, 'children', children)
    const [level, index] = levelOf(r, k)
    depth = Math.max(depth, level)
    b.node(r).coords = [level, index]
  }
  return b.build('tree', false, { arity: k, depth }, ['parent'])
}

/** Level of rank r in a heap-ordered k-ary tree and its index within that level. */
function levelOf (r: number, k: number): [number, number] {
  let level = 0
  let first = 0
  let width = 1
  while (r >= first + width) {
    first += width
    width *= k
    level++
  }
  return [level, r - first]
}
