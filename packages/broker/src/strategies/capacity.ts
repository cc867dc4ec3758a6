import type { Candidate } from '../types.js'

/** How many ranks of `memoryMB` each the node can still take: limited by slots and by memory. */
export function rankCapacity (freeSlots: number, freeMemoryMB: number, memoryMB: number): number {
  const slots = Math.max(0, Math.floor(freeSlots))
  if (memoryMB <= 0) return slots
  return Math.max(0, Math.min(slots, Math.floor(freeMemoryMB / memoryMB)))
}

export function totalCapacity (candidates: readonly Candidate[]): number {
  let n = 0
  for (const c of candidates) n += c.capacity
  return n
}

/** Stable order so decisions are reproducible: by peer ID. */
export function byPeerId (a: Candidate, b: Candidate): number {
  return a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0
}
