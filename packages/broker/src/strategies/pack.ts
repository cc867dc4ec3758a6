import type { Candidate, PlacementInput, SchedulingStrategy } from '../types.js'
import { byPeerId, totalCapacity } from './capacity.js'

/**
 * Fills one node before the next, so ranks that talk share a node (IPC instead of the
 * network). If one node can hold the whole job, the tightest such node is used (best fit,
 * leaving big holes for big jobs); otherwise the roomiest nodes are filled first, which uses
 * the fewest nodes.
 */
export function pack (): SchedulingStrategy {
  return {
    name: 'pack',
    place (job: PlacementInput, candidates: readonly Candidate[]): string[] | null {
      if (totalCapacity(candidates) < job.size) return null
      const nodes = [...candidates].sort(byPeerId)
      let fit: Candidate | undefined
      for (const n of nodes) {
        if (n.capacity >= job.size && (fit === undefined || n.capacity < fit.capacity)) fit = n
      }
      if (fit !== undefined) return new Array<string>(job.size).fill(fit.peerId)
      nodes.sort((a, b) => b.capacity - a.capacity || byPeerId(a, b))
      const out: string[] = []
      for (const n of nodes) {
        for (let k = 0; k < n.capacity && out.length < job.size; k++) out.push(n.peerId)
        if (out.length === job.size) break
      }
      return out
    }
  }
}
