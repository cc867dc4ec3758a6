import { GraphBuilder, isPowerOfTwo, log2 } from '../builder.js'
import { TopologyError } from '../errors.js'
import type { ButterflySpec, HypercubeSpec } from '../schema.js'
import type { RankGraph } from '../types.js'

/** Hypercube of dimension d = log2(n): port `dim<i>` reaches rank XOR 2^i on its `dim<i>`. */
export function expandHypercube (spec: HypercubeSpec): RankGraph {
  const n = spec.size
  if (!isPowerOfTwo(n)) throw new TopologyError(['size'], `hypercube needs a power-of-two size, got ${n}`)
  const d = log2(n)
  const b = new GraphBuilder(n)
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      const p = r ^ (1 << i)
      if (p > r) b.link(r, `dim${i}`, p, `dim${i}`)
    }
    b.label(r, r.toString(2).padStart(Math.max(d, 1), '0'))
  }
  return b.build('hypercube', false, { dimension: d })
}

/**
 * Butterfly with log2(n) stages in decimation-in-frequency order: at stage s rank r exchanges
 * with r XOR (n >> (s+1)), so stage 0 pairs ranks n/2 apart and the last stage neighbours.
 * Each stage is its own port `stage<s>`, so a program walks the stages by name.
 */
export function expandButterfly (spec: ButterflySpec): RankGraph {
  const n = spec.size
  if (n < 2 || !isPowerOfTwo(n)) throw new TopologyError(['size'], `butterfly needs a power-of-two size of at least 2, got ${n}`)
  const stages = log2(n)
  const b = new GraphBuilder(n)
  for (let s = 0; s < stages; s++) {
    for (let r = 0; r < n; r++) {
      const p = butterflyPartner(r, s, n)
      if (p > r) b.link(r, `stage${s}`, p, `stage${s}`)
    }
  }
  return b.build('butterfly', false, { stages, order: 'dif' })
}

export function butterflyPartner (rank: number, stage: number, size: number): number {
  return rank ^ (size >> (stage + 1))
}
