import type { Cluster } from './cluster.js'
import { rankCapacity } from './strategies/capacity.js'
import type { Job } from './types.js'

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`

function describeConstraints (job: Job): string {
  const p = job.request.placement ?? {}
  const parts: string[] = []
  if (p.labels !== undefined && Object.keys(p.labels).length > 0) {
    parts.push(`labels {${Object.entries(p.labels).map(([k, v]) => `${k}: ${v}`).join(', ')}}`)
  }
  if (p.group !== undefined) parts.push(`group ${p.group}`)
  if (p.nodes !== undefined) parts.push(`nodes [${p.nodes.join(', ')}]`)
  return parts.join(' and ')
}

/**
 * Why a queued job (dependencies met) is not running, in words, from the cluster as the broker
 * sees it now: no node matches its constraints, its ranks need more memory than any matching
 * node has free, not enough free slots, or it fits and waits behind `ahead` higher-priority
 * jobs. `note` is what the last scheduling pass found when none of that applies (a strategy
 * that found no placement, the head of a queue without backfill).
 */
export function explainWait (job: Job, cluster: Cluster, ahead: number, note?: string): string {
  const reservation = typeof job.request.reservation === 'string' ? job.request.reservation : undefined
  if (reservation !== undefined && !cluster.isHeld(reservation)) return `waiting for reservation ${reservation} to be active (its window is not open)`
  const nodes = cluster.matching(job.request.placement)
  const behind = ahead > 0 ? `behind ${plural(ahead, 'higher-priority job')}` : ''
  const withBehind = (s: string): string => behind === '' ? s : `${s}; ${behind}`
  if (nodes.length === 0) {
    const c = describeConstraints(job)
    if (cluster.upCount() === 0) return 'no node is up'
    return c === '' ? 'no node is up' : `no node matches ${c}`
  }
  const memoryMB = job.request.resources?.memoryMB ?? 0
  const mostMemory = Math.max(...nodes.map((n) => n.freeMemoryMB))
  if (memoryMB > 0 && mostMemory < memoryMB) {
    return withBehind(`needs ${memoryMB} MB per rank, more than any node has free (most: ${Math.floor(mostMemory)} MB)`)
  }
  let total = 0; let free = 0; let capacity = 0
  for (const n of nodes) {
    total += n.totalSlots
    free += n.freeSlots
    capacity += rankCapacity(n.freeSlots, n.freeMemoryMB, memoryMB)
  }
  const where = describeConstraints(job) === '' ? 'group has' : 'matching nodes have'
  if (total < job.size) return `needs ${plural(job.size, 'slot')}, ${where} only ${total}`
  if (capacity < job.size) {
    const mem = capacity < free ? ` (memory for ${plural(capacity, 'rank')})` : ''
    return withBehind(`needs ${plural(job.size, 'slot')}, ${where} ${free} free of ${total}${mem}`)
  }
  // free by the nodes' reports, but held for a reservation this job is not in
  const { perPeer, names } = cluster.heldFrom(reservation)
  if (names.length > 0) {
    let open = 0; let held = 0
    for (const n of nodes) {
      const h = Math.min(n.freeSlots, perPeer.get(n.peerId) ?? 0)
      held += h
      open += rankCapacity(n.freeSlots - h, n.freeMemoryMB, memoryMB)
    }
    if (open < job.size) {
      return withBehind(`needs ${plural(job.size, 'slot')}, ${where} ${free} free of ${total}, ${held} of them held by reservation ${names.join(', ')}`)
    }
  }
  if (behind !== '') return behind
  return note ?? 'waiting for the next scheduling pass'
}
