import type { Logger } from '@mvm/core'
import type { Cluster } from './cluster.js'
import type { JobStore } from './store.js'
import type { QueueKey } from './queue-index.js'
import type { Candidate, Job, SchedulingStrategy, UserQuotas } from './types.js'
import { overRunning, ownerOf } from './quotas.js'
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
  /** Per-user limits and fair share, if any. */
  quotas: UserQuotas | undefined
  /** Running ranks per owner now; the pass adds what it dispatches. */
  running: Map<string, number>
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
 *
 * Per-user quotas: a job that would take its owner over `maxRunningRanks` is passed over (with
 * that wait reason), whatever backfill says, so one user at their limit never blocks another.
 * Fair share: see {@link FairWindow}.
 */
export function schedulePass (d: PassDeps): number {
  let dispatched = 0
  const failedAt = new Map<string, number>()
  const skipped: QueueKey[] = []
  const fair = new FairWindow(d)
  try {
    while (d.cluster.totalFreeSlots() > 0) {
      const next = fair.next()
      if (next === undefined) break
      const { key, job } = next
      const over = overRunning(d.quotas, job, d.running.get(ownerOf(job)) ?? 0)
      // skipped, never a block: the next user's jobs still start
      if (over !== null) { d.note(job.id, over); skipped.push(key); continue }
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
        if (!d.backfill) { skipped.push(...fair.drain()); notBackfilled(d, job); break }
        continue
      }
      d.dispatch(job, placement, memoryMB)
      d.running.set(ownerOf(job), (d.running.get(ownerOf(job)) ?? 0) + job.size)
      dispatched++
    }
  } finally {
    for (const k of [...skipped, ...fair.drain()]) d.store.queue.push(k)
  }
  return dispatched
}

/** How far one pass looks down a run of equal-priority jobs for other users' jobs. */
const FAIR_LOOKAHEAD = 1024

interface Entry { key: QueueKey, job: Job }

/**
 * The jobs a pass considers, in queue order, except that among jobs of equal priority the
 * owner with the fewest running ranks goes first (ties: queue order). It takes up to
 * {@link FAIR_LOOKAHEAD} equal-priority jobs off the heap at a time, so a user with a long run
 * of queued jobs does not keep another user's job behind them; without fair share it takes one.
 * Jobs whose dependencies are not met are dropped as before (the broker queues them again).
 */
class FairWindow {
  /** Per owner, their jobs taken off the heap and not yet handed out, in queue order. */
  private readonly byOwner = new Map<string, Entry[]>()
  private held: QueueKey | undefined

  constructor (private readonly d: PassDeps) {}

  next (): Entry | undefined {
    for (;;) {
      const e = this.pick()
      // a job taken off the heap earlier in this pass may have ended since (a dependency failed)
      if (e === undefined || this.d.store.mustGet(e.key.id).state === 'queued') return e
    }
  }

  private pick (): Entry | undefined {
    if (this.byOwner.size === 0) this.fill()
    let best: Entry[] | undefined
    let bestRunning = Infinity
    for (const [owner, list] of this.byOwner) {
      const r = this.d.running.get(owner) ?? 0
      if (r < bestRunning || (r === bestRunning && best !== undefined && list[0]!.key.seq < best[0]!.key.seq)) { best = list; bestRunning = r }
    }
    if (best === undefined) return undefined
    const e = best.shift()!
    if (best.length === 0) this.byOwner.delete(ownerOf(e.job))
    return e
  }

  /** Everything taken off the heap and not handed out, to be put back. */
  drain (): QueueKey[] {
    const out = [...this.byOwner.values()].flat().map((e) => e.key)
    if (this.held !== undefined) out.push(this.held)
    this.byOwner.clear()
    this.held = undefined
    return out
  }

  private fill (): void {
    const limit = this.d.quotas?.fairShare === true ? FAIR_LOOKAHEAD : 1
    let priority: number | undefined
    let taken = 0
    while (taken < limit) {
      const key = this.held ?? this.d.store.queue.pop()
      this.held = undefined
      if (key === undefined) return
      if (priority !== undefined && key.priority !== priority) { this.held = key; return }
      const job = this.d.store.mustGet(key.id)
      const deps = this.d.dependencies(job)
      if (deps.kind === 'wait') continue
      if (deps.kind === 'never') { this.d.dependencyNeverMet(job, deps.reason); continue }
      priority = key.priority
      taken++
      const owner = ownerOf(job)
      const list = this.byOwner.get(owner)
      if (list === undefined) this.byOwner.set(owner, [{ key, job }])
      else list.push({ key, job })
    }
  }
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
