import { InvalidStateError, type JobState } from '@mvm/core'
import { terminalStates } from './types.js'

const allowed: Record<JobState, readonly JobState[]> = {
  // held: by a user (`mvm hold`) until released; failed: what it needs before it can run
  // (its environment) could not be made
  queued: ['scheduled', 'cancelled', 'held', 'failed'],
  // a poison job or a user hold: parked until released (back to queued) or cancelled
  held: ['queued', 'cancelled'],
  // back to queued when dispatch fails or a node/broker dies before the job ran
  scheduled: ['running', 'queued', 'failed', 'cancelled', 'held'],
  running: ['succeeded', 'failed', 'cancelled', 'queued', 'held'],
  // final: only an explicit rerun (`mvm requeue`, see assertTransition) queues them again
  succeeded: [],
  failed: [],
  cancelled: []
}

export function canTransition (from: JobState, to: JobState): boolean {
  return allowed[from].includes(to)
}

/** `rerun`: an explicit requeue of an ended job as a fresh run, the one way out of a terminal state. */
export function assertTransition (jobId: string, from: JobState, to: JobState, rerun = false): void {
  if (rerun && isTerminal(from) && to === 'queued') return
  if (!canTransition(from, to)) {
    throw new InvalidStateError(`job ${jobId}: cannot go from ${from} to ${to}`, { data: { jobId, from, to } })
  }
}

export interface ChildCounts { total: number, queued: number, active: number, succeeded: number, failed: number, cancelled: number }

/**
 * An array parent's state, derived from its children: terminal only once every child is
 * (failed if any failed, else cancelled if any was, else succeeded); running once any child
 * left the queue; queued before that.
 */
export function summarise (c: ChildCounts): JobState {
  const done = c.succeeded + c.failed + c.cancelled
  if (c.total > 0 && done === c.total) {
    if (c.failed > 0) return 'failed'
    if (c.cancelled > 0) return 'cancelled'
    return 'succeeded'
  }
  if (c.active > 0 || done > 0) return 'running'
  return 'queued'
}

export function isTerminal (s: JobState): boolean { return terminalStates.has(s) }
