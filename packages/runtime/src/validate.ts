import { BadRequestError } from '@mvm/core'
import { createEncoder, queueTypes } from '@mvm/queue'
import type { InstanceSpec } from './types.js'

const bad = (field: string, why: string): never => {
  throw new BadRequestError(`instance spec ${field}: ${why}`, { data: { field } })
}

/** Rejects a spec the runtime could not run, naming the field and the reason. */
export function validateInstanceSpec (spec: InstanceSpec): void {
  if (typeof spec?.jobId !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(spec.jobId)) bad('jobId', `"${String(spec?.jobId)}" must be 1-101 letters, digits, '.', '_' or '-'`)
  const g = spec.graph
  if (g === undefined || !Number.isInteger(g.size) || g.size < 1 || !Array.isArray(g.ranks) || g.ranks.length !== g.size) bad('graph', 'must be a RankGraph with `size` ranks')
  if (!Array.isArray(spec.placement) || spec.placement.length !== g.size) bad('placement', `has ${Array.isArray(spec.placement) ? spec.placement.length : 'no'} entries for ${g.size} ranks`)
  if (typeof spec.self !== 'string' || spec.self === '') bad('self', 'must name this node')
  const q = spec.queue
  if (q === undefined || !Number.isInteger(q.capacity) || q.capacity < 1) bad('queue.capacity', `${String(q?.capacity)} must be an integer >= 1`)
  if (!queueTypes.has(q.type)) bad('queue.type', `unknown queue type "${String(q.type)}"; known: ${queueTypes.names().join(', ')}`)
  try { createEncoder(q.encoding) } catch (err) { bad('queue.encoding', (err as Error).message) }
  const r = spec.resources
  if (r === undefined || !(r.memoryMB > 0)) bad('resources.memoryMB', `${String(r?.memoryMB)} must be a positive number`)
  if (!(r.wallTimeSec > 0)) bad('resources.wallTimeSec', `${String(r.wallTimeSec)} must be a positive number`)
  for (const node of g.ranks) {
    for (const p of node.ports) {
      if (p.port.startsWith('#')) bad(`graph.ranks[${node.rank}].ports`, `"${p.port}" is reserved (ports may not start with '#')`)
      if (!(p.peerRank >= 0 && p.peerRank < g.size)) bad(`graph.ranks[${node.rank}].ports.${p.port}`, `peer rank ${p.peerRank} is outside 0..${g.size - 1}`)
    }
  }
}
