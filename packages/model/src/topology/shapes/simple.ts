import { GraphBuilder } from '../builder.js'
import type { CompleteSpec, LineSpec, RingSpec, StarSpec } from '../schema.js'
import type { RankGraph } from '../types.js'

/**
 * Ring: rank r's `next` reaches rank r+1's `prev` (mod n). With two ranks both links join the
 * same pair: 0.next↔1.prev and 0.prev↔1.next, so a program written for any ring still has a
 * distinct queue per direction.
 */
export function expandRing (spec: RingSpec): RankGraph {
  const n = spec.size
  const b = new GraphBuilder(n)
  for (let r = 0; r < n; r++) b.link(r, 'next', (r + 1) % n, 'prev')
  return b.build('ring', false, {}, ['next', 'prev'])
}

/** Line (pipeline): like a ring without the wrap link; the first rank has no `prev`, the last no `next`. */
export function expandLine (spec: LineSpec): RankGraph {
  const n = spec.size
  const b = new GraphBuilder(n)
  for (let r = 0; r + 1 < n; r++) b.link(r, 'next', r + 1, 'prev', spec.directed)
  return b.build('line', spec.directed, {}, ['next', 'prev'])
}

/** Star: rank 0 is the hub with `spoke0..spoke{n-2}`; spoke i is rank i+1 with one port `hub`. */
export function expandStar (spec: StarSpec): RankGraph {
  const n = spec.size
  const b = new GraphBuilder(n)
  const spokes: string[] = []
  for (let i = 0; i + 1 < n; i++) {
    b.link(0, `spoke${i}`, i + 1, 'hub')
    spokes.push(`spoke${i}`)
  }
  b.group(0, 'spokes', spokes)
  b.label(0, 'hub')
  return b.build('star', false, { hub: 0 })
}

/** Complete graph: rank r reaches every other rank s on port `to<s>`, arriving at s's `to<r>`. */
export function expandComplete (spec: CompleteSpec): RankGraph {
  const n = spec.size
  const b = new GraphBuilder(n)
  for (let r = 0; r < n; r++) {
    for (let s = r + 1; s < n; s++) b.link(r, `to${s}`, s, `to${r}`)
  }
  for (let r = 0; r < n; r++) {
    b.group(r, 'all', Array.from({ length: n }, (_, s) => s).filter((s) => s !== r).map((s) => `to${s}`))
  }
  return b.build('complete', false, {})
}
