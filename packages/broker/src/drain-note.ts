import { nodeLabel } from '@mvm/core'
import type { Cluster } from './cluster.js'
import type { Job } from './types.js'

/**
 * A wait reason with the drained nodes the job could otherwise use named in it: a job that
 * waits for slots a drain took away says so, as Slurm shows a drained node in `squeue`.
 */
export function withDrainNote (reason: string, job: Job, cluster: Cluster): string {
  const drained = cluster.drainedMatching(job.request.placement)
  if (drained.length === 0) return reason
  const names = drained.slice(0, 3).map((v) => nodeLabel(v.peerId, v.labels)).join(', ') + (drained.length > 3 ? ` and ${drained.length - 3} more` : '')
  return `${reason}; ${drained.length === 1 ? 'node' : 'nodes'} ${names} ${drained.length === 1 ? 'is' : 'are'} draining (no new ranks)`
}
