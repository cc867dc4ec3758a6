import type { Candidate, PlacementInput, SchedulingStrategy } from '../types.js'
import { byPeerId, totalCapacity } from './capacity.js'

/**
 * Each rank goes to the node with the lowest load in its latest monitoring report, then the
 * most free slots. A rank placed counts as one more busy slot's worth of load, so a large job
 * does not pile onto the node that merely looked idlest.
 */
export function leastLoaded (): SchedulingStrategy {
  return {
    name: 'least-loaded',
    place (job: PlacementInput, candidates: readonly Candidate[]): string[] | null {
      if (totalCapacity(candidates) < job.size) return null
      const nodes = [...candidates].sort(byPeerId).map((c) => ({ c, left: c.capacity, placed: 0 }))
      const out: string[] = []
      while (out.length < job.size) {
        let best: typeof nodes[number] | undefined
        let bestLoad = Infinity
        for (const n of nodes) {
          if (n.left === 0) continue
          const load = n.c.load + n.placed / Math.max(1, n.c.totalSlots)
          const free = n.c.freeSlots - n.placed
          if (best === undefined || load < bestLoad || (load === bestLoad && free > best.c.freeSlots - best.placed)) {
            best = n; bestLoad = load
          }
        }
        // totalCapacity guaranteed a node with room
        best!.left--; best!.placed++
        out.push(best!.c.peerId)
      }
      return out
    }
  }
}
