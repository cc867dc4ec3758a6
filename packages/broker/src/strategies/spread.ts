import type { Candidate, PlacementInput, SchedulingStrategy } from '../types.js'
import { byPeerId, totalCapacity } from './capacity.js'

/**
 * One rank per node before any node gets a second: a failing node takes down as few ranks as
 * possible and ranks do not compete for one machine. Nodes with the most room go first.
 */
export function spread (): SchedulingStrategy {
  return {
    name: 'spread',
    place (job: PlacementInput, candidates: readonly Candidate[]): string[] | null {
      if (totalCapacity(candidates) < job.size) return null
      const nodes = [...candidates].sort((a, b) => b.capacity - a.capacity || byPeerId(a, b))
      const left = nodes.map((n) => n.capacity)
      const out: string[] = []
      // each round places at most one rank per node; capacity check above bounds the rounds
      while (out.length < job.size) {
        for (let i = 0; i < nodes.length && out.length < job.size; i++) {
          if (left[i]! > 0) { left[i]!--; out.push(nodes[i]!.peerId) }
        }
      }
      return out
    }
  }
}
