import { GraphBuilder } from '../builder.js'
import { TopologyError } from '../errors.js'
import type { GridSpec } from '../schema.js'
import type { RankGraph } from '../types.js'

/** Port pair per dimension: the first moves to coordinate +1, the second to -1. */
export const GRID_PORTS = [['east', 'west'], ['south', 'north'], ['up', 'down']] as const

/**
 * Mesh and torus in 1–3 dimensions. Ranks are numbered with x fastest:
 * rank = x + X·(y + Y·z). `east` is x+1, `south` is y+1 (rows are drawn top to bottom),
 * `up` is z+1. A torus wraps each dimension; in a dimension of size 2 the wrap link joins the
 * same two ranks as the inner link but on the other port pair (0.west↔1.east), like a ring of
 * two. A dimension of size 1 has no ports at all in either shape (wrapping to oneself is useless).
 */
export function expandGrid (spec: GridSpec): RankGraph {
  const dims = spec.dims
  const product = dims.reduce((a, d) => a * d, 1)
  if (spec.size !== undefined && product !== spec.size) {
    throw new TopologyError(['dims'], `${spec.shape} dims [${dims.join(',')}] multiply to ${product} but size is ${spec.size}`)
  }
  if (product > 4096) throw new TopologyError(['dims'], `${spec.shape} dims [${dims.join(',')}] give ${product} ranks, more than 4096`)
  const wrap = spec.shape === 'torus'
  const b = new GraphBuilder(product)
  const strides = dims.map((_, i) => dims.slice(0, i).reduce((a, d) => a * d, 1))
  const coordsOf = (rank: number): number[] => dims.map((d, i) => Math.floor(rank / (strides[i] ?? 1)) % d)

  for (let rank = 0; rank < product; rank++) {
    const c = coordsOf(rank)
    b.label(rank, c.join(','), c)
    dims.forEach((d, i) => {
      const [plus, minus] = GRID_PORTS[i] ?? GRID_PORTS[0]
      const ci = c[i] ?? 0
      const stride = strides[i] ?? 1
      if (d === 1) return
      if (ci + 1 < d) b.link(rank, plus, rank + stride, minus)
      else if (wrap) b.link(rank, plus, rank - ci * stride, minus)
    })
  }
  return b.build(spec.shape, false, { dims: [...dims] }, GRID_PORTS.flat())
}
