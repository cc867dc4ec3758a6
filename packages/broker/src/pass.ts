import type { Logger } from '@mvm/core'
import type { Cluster } from './cluster.js'
import type { JobStore } from './store.js'
import type { QueueKey } from './queue-index.js'
import type { Candidate, Job, SchedulingStrategy } from './types.js'
import type { DependencyStatus } from './deps.js'
import { totalCapacity } from './strategies/capacity.js'

export interface PassDeps {
  store: JobStore
  cluster: Cluster
  backfill: boolean
  strategyFor: (job: Job) => SchedulingStrategy
  dispatch: (job: Job, placement: string[], memoryMB: number) => void
  log: Logger
  /** Whether the job's dependencies let it run now. */
  dependencies: (job: Job) => DependencyStatus
  /** A dependency can never be met: the broker ends the job. */
  dependencyNeverMet: (job: Job, reason: string) => void
  /** What the pass learnt about a job it left queued that its shape alone does not explain. */
  note: (jobId: string, text: string) => void
}

/**
 * One scheduling pass over the queue in order (priority, then submission). All-or-nothing:
 * a job gets every rank placed or stays queued. With backfill, a job that cannot fit is
 * skipped and later jobs that fit may start (there is no reservation for the skipped head, so
 * a steady stream of small jobs can keep a big one waiting); without it the pass stops at
 * the first job that cannot fit.
 *
 * The queue is the store's in-memory heap: a pass that places the head costs O(log n) in the
 * queue length. Jobs looked at and left queued are put back when the pass ends. The pass ends
 * as soon as the cluster has no free slot, and a job whose shape (constraints and memory)
 * already failed at a smaller or equal size in this pass is skipped without asking the strategy.
 */
export function schedulePass (d: PassDeps): number {
  let dispatched = 0
  const failedAt = new Map<string, number>()
  const skipped: QueueKey[] = []
  try {
    while (d.cluster.totalFreeSlots() > 0) {
      const key = d.store.queue.pop()
      if (key === undefined) break
      const job = d.store.mustGet(key.id)
      const deps = d.dependencies(job)
      // not put back: the broker queues it again when one of its dependencies ends
      if (deps.kind === 'wait') continue
      if (deps.kind === 'never') { d.dependencyNeverMet(job, deps.reason); continue }
      const memoryMB = job.request.resources?.memoryMB ?? 0
      const { strategy: _s, ...constraints } = job.request.placement ?? {}
      const reservation = typeof job.request.reservation === 'string' ? job.request.reservation : undefined
      const shape = JSON.stringify([memoryMB, constraints, job.request.placement?.strategy ?? '', reservation ?? ''])
      const smallestFailed = failedAt.get(shape)
      let placement: string[] | null = null
      if (smallestFailed === undefined || job.size < smallestFailed) {
        const candidates = d.cluster.candidates(job.request.placement, memoryMB, reservation)
        placement = decide(d, job, memoryMB, candidates)
        if (placement === null) failedAt.set(shape, Math.min(job.size, smallestFailed ?? Infinity))
        if (placement === null && totalCapacity(candidates) >= job.size) d.note(job.id, `the ${d.strategyFor(job).name} strategy found no placement for its ${job.size} ranks`)
      }
      if (placement === null) {
        skipped.push(key)
        if (!d.backfill) { notBackfilled(d, job); break }
        continue
      }
      d.dispatch(job, placement, memoryMB)
      dispatched++
    }
  } finally {
    for (const k of skipped) d.store.queue.push(k)
  }
  return dispatched
}

function decide (d: PassDeps, job: Job, memoryMB: number, candidates: Candidate[]): string[] | null {
  if (candidates.length === 0) return null
  const strategy = d.strategyFor(job)
  let placement: string[] | null
  try {
    placement = strategy.place({ jobId: job.id, size: job.size, memoryMB }, candidates)
  } catch (err) {
    d.log.error({ err, jobId: job.id, strategy: strategy.name }, 'scheduling strategy threw; job stays queued')
    return null
  }
  if (placement === null) return null
  // a plug-in strategy must not be able to oversubscribe a node or drop a rank
  const left = new Map(candidates.map((c) => [c.peerId, c.capacity]))
  const ok = placement.length === job.size && placement.every((p) => {
    const n = left.get(p)
    if (n === undefined || n < 1) return false
    left.set(p, n - 1)
    return true
  })
  if (!ok) {
    d.log.error({ jobId: job.id, strategy: strategy.name, placement }, 'strategy returned an invalid placement; job stays queued')
    return null
  }
  return placement
}

/** Without backfill nothing behind the head starts: the jobs right behind it are told which job they wait for. */
function notBackfilled (d: PassDeps, head: Job): void {
  const seen: QueueKey[] = []
  try {
    for (let i = 0; i < 16; i++) {
      const k = d.store.queue.pop()
      if (k === undefined) break
      seen.push(k)
      d.note(k.id, `behind ${head.id} at the head of the queue (backfill is off)`)
    }
  } finally {
    for (const k of seen) d.store.queue.push(k)
  }
}
