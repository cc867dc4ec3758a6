import type { RankRecord } from './types.js'

/**
 * A job's result: rank 0's return value by convention (the root of reductions and gathers);
 * when rank 0 returns nothing and exactly one rank returns something (a pipeline's last
 * stage, a graph's sink), that rank's value; otherwise null.
 */
export function jobValue (ranks: readonly RankRecord[]): unknown {
  const root = ranks.find((r) => r.rank === 0)?.output
  if (root !== undefined && root !== null) return root
  const others = ranks.filter((r) => r.output !== undefined && r.output !== null)
  return others.length === 1 ? others[0]!.output : null
}
