import type { Candidate, PlacementInput, SchedulingStrategy } from './types.js'

/**
 * Ranks that must run on a given node when a job is placed again (a migration names the rank
 * and its new node; a drain keeps the ranks of the other nodes where they are). Rank → peerId.
 */
export type RankPins = ReadonlyMap<number, string>

/**
 * A placement for `job` with every pinned rank on its node and the others placed by `strategy`
 * on what is left of `candidates`; null when a pinned node has no room or the strategy finds no
 * placement for the rest. Each candidate's `capacity` bounds what it takes, pinned ranks first.
 */
export function placeWithPins (strategy: SchedulingStrategy, job: PlacementInput, candidates: readonly Candidate[], pins: RankPins): string[] | null {
  const left = new Map(candidates.map((c) => [c.peerId, c.capacity]))
  for (const [rank, peerId] of pins) {
    if (!Number.isInteger(rank) || rank < 0 || rank >= job.size) return null
    const n = left.get(peerId) ?? 0
    if (n < 1) return null
    left.set(peerId, n - 1)
  }
  const free = job.size - pins.size
  let rest: string[] = []
  if (free > 0) {
    const open = candidates.map((c) => ({ ...c, capacity: left.get(c.peerId) ?? 0 })).filter((c) => c.capacity > 0)
    if (open.length === 0) return null
    let placed: string[] | null
    try { placed = strategy.place({ ...job, size: free }, open) } catch { return null }
    if (placed === null || placed.length !== free) return null
    // a plug-in strategy must not oversubscribe a node here either
    for (const p of placed) {
      const n = left.get(p) ?? 0
      if (n < 1) return null
      left.set(p, n - 1)
    }
    rest = placed
  }
  const out: string[] = []
  let next = 0
  for (let rank = 0; rank < job.size; rank++) out.push(pins.get(rank) ?? rest[next++]!)
  return out
}
