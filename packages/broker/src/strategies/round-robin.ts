import type { Candidate, PlacementInput, SchedulingStrategy } from '../types.js'
import { byPeerId, totalCapacity } from './capacity.js'

/**
 * Deals ranks to nodes in turn, one at a time, continuing where the previous decision
 * stopped, so consecutive jobs start on different nodes.
 */
export function roundRobin (): SchedulingStrategy {
  let last = ''
  return {
    name: 'round-robin',
    place (job: PlacementInput, candidates: readonly Candidate[]): string[] | null {
      if (totalCapacity(candidates) < job.size) return null
      const nodes = [...candidates].sort(byPeerId)
      const left = nodes.map((n) => n.capacity)
      // resume after the node the previous decision used last
      let i = nodes.findIndex((n) => n.peerId > last)
      if (i < 0) i = 0
      const out: string[] = []
      while (out.length < job.size) {
        if (left[i]! > 0) { out.push(nodes[i]!.peerId); left[i]!--; last = nodes[i]!.peerId }
        i = (i + 1) % nodes.length
      }
      return out
    }
  }
}
