import { QuotaError } from '@mvm/core'
import type { NewSubmission } from './store.js'
import type { Job, UserLimits, UserQuotas } from './types.js'

/** Jobs without an owner count as one user of this name. */
export const NO_OWNER = 'anonymous'

export const ownerOf = (job: { owner: string | null }): string => job.owner ?? NO_OWNER

export function limitsOf (q: UserQuotas | undefined, owner: string): UserLimits {
  if (q === undefined) return {}
  const own = Object.hasOwn(q.users, owner) ? q.users[owner] : undefined
  return { ...q.defaults, ...own }
}

/** The wait reason of a job its owner's running ranks keep from starting, or null if it may start. */
export function overRunning (q: UserQuotas | undefined, job: Job, running: number): string | null {
  const max = limitsOf(q, ownerOf(job)).maxRunningRanks
  if (max === undefined || running + job.size <= max) return null
  return `over quota: ${ownerOf(job)} has ${running} of ${max} running ranks`
}

/**
 * Refuses submissions that a quota would never let run (a job larger than its owner's
 * `maxRunningRanks`) or that take the owner over `maxQueuedJobs`. `queued` counts the owner's
 * queued jobs now. One refused submission refuses the batch (nothing is stored).
 */
export function checkSubmitQuotas (q: UserQuotas | undefined, subs: readonly NewSubmission[], queued: (owner: string) => number): void {
  if (q === undefined) return
  const adding = new Map<string, number>()
  for (const s of subs) {
    for (const j of s.children.length > 0 ? s.children : [s.parent]) {
      const owner = ownerOf(j)
      const lim = limitsOf(q, owner)
      if (lim.maxRunningRanks !== undefined && j.size > lim.maxRunningRanks) {
        throw new QuotaError(`${j.name}: ${j.size} ranks, over the quota of ${lim.maxRunningRanks} running ranks for ${owner} (scheduling.quotas.maxRunningRanks)`, { retryable: false, data: { limit: 'maxRunningRanks', owner, max: lim.maxRunningRanks } })
      }
      if (lim.maxQueuedJobs === undefined) continue
      const n = (adding.get(owner) ?? queued(owner)) + 1
      if (n > lim.maxQueuedJobs) {
        throw new QuotaError(`${j.name}: over quota: ${owner} has ${n - 1} of ${lim.maxQueuedJobs} queued jobs (scheduling.quotas.maxQueuedJobs)`, { data: { limit: 'maxQueuedJobs', owner, max: lim.maxQueuedJobs } })
      }
      adding.set(owner, n)
    }
  }
}
