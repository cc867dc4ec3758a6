import { jobValue } from './result.js'
import { resolveJobId } from './ids.js'
import {
  BadRequestError, CapacityError, ConfigError, InvalidStateError, MvmError, UnavailableError, silentLogger, componentLogger, toMvmError, nodeLabel,
  type JobState, type Logger, type Registry
} from '@mvm/core'
import { JobStore, type Change } from './store.js'
import { Cluster } from './cluster.js'
import type { SlotHold } from './holds.js'
import { schedulePass } from './pass.js'
import { toNewJobs, checkNodeView } from './validate.js'
import { schedulingStrategies } from './strategies/registry.js'
import { isTerminal } from './transitions.js'
import { DEFAULT_POISON_AFTER } from './types.js'
import { saveCheckpoint } from './checkpoints.js'
import { dependenciesOf, dependencyStatus, normaliseDependsOn, type DependencyStatus } from './deps.js'
import { explainWait } from './wait-reason.js'
import { checkSubmitQuotas, overRunning, ownerOf } from './quotas.js'
import { placeWithPins, type RankPins } from './pins.js'
import { withDrainNote } from './drain-note.js'
import { askUntil, autoDecision, boundsOf, checkResize, extraRanks, firstRequest, noRoom, notRunning, resizedFromOf, resizedRequest, restartsUsed, waitForCut, type CutKey } from './resize.js'
import type {
  Broker, BrokerInit, CheckpointRecord, Dispatcher, FaultTolerance, HistoryEntry, HistoryQuery, Job, JobChangeEvent, JobEvent, JobRequest, JobResult,
  NodeView, RankRecord, SchedulingStrategy, StrategySpec, SubmitResult
} from './types.js'

/** Why a run was given up, for poison-job accounting: a node died under it, or it failed this way. */
type Fault = { nodeDeath: true } | { failure: string }

/** A dispatched job the broker is tracking: its slots are reserved until it ends. */
interface Active { placement: string[], ctl: AbortController, ranksStarted: number }

export const RESTARTED_REASON = 'broker restarted while the job was running'

export class BrokerImpl implements Broker {
  private storeOrNull: JobStore | null = null
  private readonly cluster = new Cluster()
  private readonly active = new Map<string, Active>()
  private readonly listeners = new Set<(e: JobChangeEvent) => void>()
  private readonly overrides = new Map<string, SchedulingStrategy>()
  private readonly dispatcher: Dispatcher
  private ft: FaultTolerance
  private readonly backfill: boolean
  private readonly log: Logger
  private readonly now: () => number
  private current: SchedulingStrategy
  private currentName: string
  private kickPending = false
  /** What the last pass learnt about a job it left queued (see explainWait); dropped when the job leaves the queue. */
  private readonly notes = new Map<string, string>()
  /** Queued jobs kept from scheduling until something outside the broker is ready (see gate()). */
  private readonly gates = new Map<string, string>()
  /** Jobs being resized now (one resize at a time per job). */
  private readonly resizing = new Set<string>()
  /** When each malleable job last started or was resized: automatic resizes wait a cooldown. */
  private readonly lastResizeAt = new Map<string, number>()
  /** Priorities of the queued jobs free to run, highest first; rebuilt after any change. */
  private queuedPriorities: number[] | null = null
  /** Jobs whose next dispatch resumes from their last cut whatever the recovery policy says (placed again by relocate()). */
  private readonly resumeNext = new Set<string>()
  /**
   * Jobs this broker requeued when it opened the store (they were dispatched by its previous
   * life, or by the active super-peer it took over from): ranks of that earlier run may still be
   * ending on their nodes, and a job report carries no attempt, so the first failed rank of the
   * run after recovery is taken as part of the recovery (another restart), not as the verdict.
   */
  private readonly recovered = new Set<string>()

  constructor (private readonly init: BrokerInit, private readonly registry: Registry<SchedulingStrategy> = schedulingStrategies) {
    this.dispatcher = init.dispatcher
    this.ft = init.faultTolerance ?? { recovery: 'requeue', maxRestarts: 3 }
    checkFaultTolerance(this.ft)
    this.backfill = init.backfill ?? true
    this.log = componentLogger(init.logger ?? silentLogger(), 'broker')
    this.now = init.now ?? Date.now
    const spec = init.strategy ?? 'least-loaded'
    this.current = registry.resolve(spec)
    this.currentName = specName(spec, this.current)
  }

  private get store (): JobStore {
    if (this.storeOrNull === null) throw new UnavailableError('the broker is not started')
    return this.storeOrNull
  }

  isStarted (): boolean { return this.storeOrNull !== null }

  async start (): Promise<void> {
    if (this.storeOrNull !== null) return
    try {
      this.storeOrNull = new JobStore(this.init.dataDir, this.now, { onCommitError: (err) => { this.log.error({ err }, 'job store commit failed; state reloaded from the store') } })
    } catch (err) {
      if (err instanceof MvmError) throw err
      throw new ConfigError(`${this.init.dataDir}/broker.db: cannot open the job store: ${toMvmError(err).message}`, { cause: err })
    }
    this.recover()
    this.kick()
  }

  async stop (): Promise<void> {
    if (this.storeOrNull === null) return
    // jobs stay scheduled/running in the store; the next start() recovers them per policy
    for (const a of this.active.values()) a.ctl.abort(new UnavailableError('broker stopped'))
    this.active.clear()
    this.storeOrNull.close()
    this.storeOrNull = null
  }

  /** Jobs the store says were dispatched belong to a previous life of this broker: requeue or fail them. */
  private recover (): void {
    for (const job of this.store.active()) {
      if (job.placement !== null) void this.stopQuietly(job, job.placement, RESTARTED_REASON)
      const changes = this.requeueOrFail(job, RESTARTED_REASON)
      if (changes.some((c) => c.job.id === job.id && c.job.state === 'queued')) this.recovered.add(job.id)
      this.emit(changes)
    }
  }

  submit (request: JobRequest, options: { bundle?: Uint8Array | string } = {}): SubmitResult {
    return this.submitMany([{ request, ...(options.bundle !== undefined ? { bundle: options.bundle } : {}) }])[0]!
  }

  submitMany (items: ReadonlyArray<{ request: JobRequest, bundle?: Uint8Array | string }>, options: { commit?: 'now' | 'batch' } = {}): SubmitResult[] {
    if (!Array.isArray(items)) throw new BadRequestError('submitMany: expected a list of submissions')
    // every request is checked before anything is stored: one bad request stores none
    const subs = items.map((it, i) => {
      let jobs
      try {
        jobs = toNewJobs(this.withDependencies(it?.request))
      } catch (err) {
        if (items.length > 1 && err instanceof BadRequestError) throw new BadRequestError(`submission ${i}: ${err.message}`, { data: err.data, cause: err })
        throw err
      }
      const b = it.bundle
      return { ...jobs, bundle: typeof b === 'string' ? new TextEncoder().encode(b) : b }
    })
    const quotas = this.init.quotas?.()
    if (quotas !== undefined) {
      let queued: Map<string, number> | undefined
      checkSubmitQuotas(quotas, subs, (owner) => {
        if (queued === undefined) {
          queued = new Map()
          for (const j of this.store.queuedJobs()) queued.set(ownerOf(j), (queued.get(ownerOf(j)) ?? 0) + 1)
        }
        return queued.get(owner) ?? 0
      })
    }
    const out = this.store.submitMany(subs, options)
    const at = this.now()
    for (const r of out) {
      for (const id of [r.jobId, ...r.childJobIds]) {
        this.emitOne({ kind: 'state', jobId: id, parentId: id === r.jobId ? null : r.jobId, state: 'queued', from: null, at })
      }
    }
    this.log.debug({ jobs: out.length }, 'jobs submitted')
    // a dependency that already ended may decide at once (never met: cancelled now)
    for (const r of out) for (const id of r.childJobIds.length > 0 ? r.childJobIds : [r.jobId]) this.settleDependencies(id)
    this.kick()
    return out
  }

  /** The request with `dependsOn` (and each element's) normalised to `[{ jobId, type }]`, every job resolved now. */
  private withDependencies (request: JobRequest): JobRequest {
    if (typeof request !== 'object' || request === null) return request
    const resolve = (ref: string): string => this.resolveDependency(ref)
    let out = request
    if (request.dependsOn !== undefined) out = { ...out, dependsOn: normaliseDependsOn(request.dependsOn, 'request.dependsOn', resolve) }
    if (Array.isArray(request.children)) {
      out = {
        ...out,
        children: request.children.map((c, i) => typeof c === 'object' && c !== null && c.dependsOn !== undefined
          ? { ...c, dependsOn: normaliseDependsOn(c.dependsOn, `request.children[${i}].dependsOn`, resolve) }
          : c)
      }
    }
    return out
  }

  resolveJobRef (ref: string): string { return this.resolveDependency(ref) }

  /** A job a dependency names: its id or a unique prefix of one, else the latest job of that name. */
  private resolveDependency (ref: string): string {
    try {
      return this.resolveId(ref)
    } catch (err) {
      const byName = this.store.latestByName(ref)
      if (byName !== undefined) return byName
      throw err
    }
  }

  /**
   * A queued job whose dependencies were waited on: cancelled when one can never be met, put
   * back in the scheduler's queue when all are (the pass drops a job that must wait).
   */
  private settleDependencies (id: string): void {
    const job = this.store.get(id)
    if (job === undefined || job.state !== 'queued' || job.childIds !== undefined) return
    const deps = dependenciesOf(job)
    if (deps.length === 0) return
    const st = this.dependencies(job)
    if (st.kind === 'never') this.dependencyNeverMet(job, st.reason)
    else if (st.kind === 'met') { this.store.queue.push(job); this.kick() }
  }

  private dependencies (job: Job): DependencyStatus {
    const gate = this.gates.get(job.id)
    if (gate !== undefined) return { kind: 'wait', reason: gate }
    const deps = dependenciesOf(job)
    return deps.length === 0 ? { kind: 'met' } : dependencyStatus(deps, (id) => this.store.get(id))
  }

  private dependencyNeverMet (job: Job, reason: string): void {
    this.log.info({ jobId: job.id, reason }, 'dependency never met; job cancelled')
    this.emit(this.store.transition(job.id, 'cancelled', { reason }))
  }

  async flush (): Promise<void> { if (this.storeOrNull !== null) await this.storeOrNull.flush() }
  changeCount (): number { return this.store.changeCount() }
  snapshot (): Uint8Array { return this.store.snapshot() }

  get (jobId: string): Job { return this.store.mustGet(jobId) }
  /** The full id of the job `idOrPrefix` names: itself, or the one job it is a unique prefix of. */
  resolveId (idOrPrefix: string): string {
    return resolveJobId(idOrPrefix, (id) => this.store.get(id) !== undefined, (p, n) => this.store.idsWithPrefix(p, n))
  }
  events (jobId: string): JobEvent[] { this.store.mustGet(jobId); return this.store.events(jobId) }
  list (query?: { state?: JobState, limit?: number, parentId?: string }): Job[] { return this.store.list(query) }
  countByState (): Record<JobState, number> { return this.store.countByState() }
  history (query?: HistoryQuery): HistoryEntry[] { return this.store.history(query).map((job) => ({ job, ranks: this.store.ranks(job.id) })) }
  prune (cutoff: number): number {
    const n = this.store.prune(cutoff)
    if (n > 0) this.log.info({ jobs: n, before: new Date(cutoff).toISOString() }, 'finished jobs past retention forgotten')
    return n
  }
  bundle (sha256: string): Uint8Array | undefined { return this.store.bundle(sha256) }
  nodes (): NodeView[] { return this.cluster.views() }
  checkpoints (jobId: string): CheckpointRecord[] {
    const job = this.store.mustGet(jobId)
    // a job with coordinated cuts resumes only from one every rank completed, never from a mix
    const cut = this.store.lastCut(jobId, job.size)
    if (cut.length > 0) return cut
    // resized and no cut at the new size yet: the cut of the old layout it started from
    const from = resizedFromOf(job)
    const old = from === undefined ? [] : this.store.cutShares(jobId, from.attempt, from.cut)
    return old.length > 0 ? old : this.store.checkpoints(jobId)
  }
  saveCheckpoint (jobId: string, rank: number, stateJson: string, options?: { seq?: number, peerId?: string }): boolean {
    return saveCheckpoint(this.store, jobId, rank, stateJson, options)
  }
  strategy (): string { return this.currentName }

  result (jobId: string): JobResult {
    const job = this.store.mustGet(jobId)
    if (job.childIds !== undefined) {
      const value = job.childIds.map((id) => this.store.mustGet(id).result)
      return { jobId, state: job.state, reason: job.reason, value, ranks: [] }
    }
    return { jobId, state: job.state, reason: job.reason, value: job.result, ranks: this.store.ranks(jobId) }
  }

  /** A policy change: later recovery decisions follow it (jobs already requeued keep their count). */
  setFaultTolerance (ft: FaultTolerance): void {
    checkFaultTolerance(ft)
    this.ft = { ...ft }
    this.log.info({ faultTolerance: this.ft }, 'fault tolerance changed')
  }

  setStrategy (spec: StrategySpec): void {
    const s = this.registry.resolve(spec)
    this.current = s
    this.currentName = specName(spec, s)
    this.log.info({ strategy: this.currentName }, 'scheduling strategy switched')
    this.kick()
  }

  setReservations (holds: SlotHold[]): void {
    this.cluster.setHolds(holds)
    this.kick()
  }

  reservations (): Array<{ name: string, perPeer: Record<string, number>, used: Record<string, number> }> {
    return this.cluster.held().map((h) => ({ name: h.name, perPeer: Object.fromEntries(h.perPeer), used: Object.fromEntries(h.used) }))
  }

  updateNodes (views: NodeView[]): void {
    if (!Array.isArray(views)) throw new BadRequestError('nodes: must be a list of node views')
    const checked = views.map((v, i) => checkNodeView(v, `nodes[${i}]`))
    this.cluster.update(checked)
    // a report that a node is gone is as good as nodeDown for the jobs placed there
    for (const v of checked) {
      if (v.state !== 'up' && [...this.active.values()].some((a) => a.placement.includes(v.peerId))) {
        this.nodeDown(v.peerId).catch((err: unknown) => { this.log.error({ err, peerId: v.peerId }, 'nodeDown failed') })
      }
    }
    this.kick()
  }

  async nodeDown (peerId: string): Promise<void> {
    this.cluster.markDown(peerId)
    const reason = `node ${nodeLabel(peerId, this.cluster.labelsOf(peerId))} went down`
    const hit = [...this.active].filter(([, a]) => a.placement.includes(peerId))
    await Promise.all(hit.map(async ([id, a]) => { await this.abandon(id, a, reason, { nodeDeath: true }) }))
    this.kick()
  }

  async cancel (jobId: string, options: { by?: string } = {}): Promise<Job> {
    const job = this.store.mustGet(jobId)
    // idempotent, like scancel: a second cancel (a retry after a lost reply, a script run twice)
    // returns the state it asked for instead of failing
    if (job.state === 'cancelled') return job
    // a finished job is an error, as scancel reports "already completed" and exits non-zero
    if (isTerminal(job.state)) throw new InvalidStateError(`job ${jobId} already ${job.state}; nothing to cancel`)
    const reason = `cancelled by ${options.by ?? 'user'}`
    if (job.childIds !== undefined) {
      for (const id of job.childIds) {
        if (!isTerminal(this.store.mustGet(id).state)) await this.cancel(id, options)
      }
      return this.store.mustGet(jobId)
    }
    this.emit(this.store.transition(jobId, 'cancelled', { reason }))
    const a = this.active.get(jobId)
    if (a !== undefined) {
      a.ctl.abort(new InvalidStateError(reason))
      this.active.delete(jobId)
      await this.stopQuietly(job, a.placement, reason)
      // slots are freed only once the peers were told to stop
      this.cluster.release(jobId)
      this.kick()
    }
    return this.store.mustGet(jobId)
  }

  async release (jobId: string, options: { by?: string } = {}): Promise<Job> {
    const job = this.store.mustGet(jobId)
    if (job.state !== 'held') throw new InvalidStateError(`job ${jobId} is ${job.state}, not held; only a held job can be released`, { data: { jobId, state: job.state } })
    const why = `released by ${options.by ?? 'user'}`
    // a fresh count: the next poisonAfter runs decide again whether it is poison
    this.emit(this.store.transition(jobId, 'queued', { reason: null, detail: `${why} (was held: ${job.reason ?? 'no reason'})`, faults: { nodeDeaths: 0, failureStreak: 0, lastFailure: null } }))
    this.log.info({ jobId, by: options.by }, 'held job released')
    this.kick()
    return this.store.mustGet(jobId)
  }

  async hold (jobId: string, options: { by?: string } = {}): Promise<Job> {
    const job = this.store.mustGet(jobId)
    const why = `held by ${options.by ?? 'user'}`
    if (job.childIds !== undefined) {
      for (const id of job.childIds) if (this.store.mustGet(id).state === 'queued') await this.hold(id, options)
      return this.store.mustGet(jobId)
    }
    // idempotent as cancel is: held again is what was asked for
    if (job.state === 'held') return job
    if (job.state !== 'queued') throw new InvalidStateError(`job ${jobId} is ${job.state}; only a queued job can be held`, { data: { jobId, state: job.state } })
    this.emit(this.store.transition(jobId, 'held', { reason: why }))
    this.log.info({ jobId, by: options.by }, 'job held')
    return this.store.mustGet(jobId)
  }

  async requeue (jobId: string, options: { by?: string } = {}): Promise<Job> {
    const job = this.store.mustGet(jobId)
    const why = `requeued by ${options.by ?? 'user'}`
    if (job.childIds !== undefined) {
      let n = 0
      for (const id of job.childIds) {
        const s = this.store.mustGet(id).state
        if (s !== 'queued' && s !== 'held') { await this.requeue(id, options); n++ }
      }
      if (n === 0) throw new InvalidStateError(`job ${jobId}: none of its elements can be requeued (all queued or held)`, { data: { jobId, state: job.state } })
      return this.store.mustGet(jobId)
    }
    if (job.state === 'queued' || job.state === 'held') {
      throw new InvalidStateError(`job ${jobId} is ${job.state}; only a scheduled, running or ended job can be requeued${job.state === 'held' ? ' (release it instead)' : ''}`, { data: { jobId, state: job.state } })
    }
    const a = this.active.get(jobId)
    if (a !== undefined) {
      // stopped on its peers before it can be placed again, as scontrol requeue does
      this.forget(jobId, a, why)
      await this.stopQuietly(job, a.placement, why)
      this.cluster.release(jobId)
    }
    const fresh = this.store.mustGet(jobId)
    if (fresh.state === 'queued' || fresh.state === 'held') return fresh
    this.emit(this.store.transition(jobId, 'queued', {
      reason: null,
      result: null,
      restarts: 0,
      rerun: true,
      faults: { nodeDeaths: 0, failureStreak: 0, lastFailure: null },
      detail: `${why} (was ${fresh.state}${fresh.reason !== null ? `: ${fresh.reason}` : ''})`
    }))
    this.log.info({ jobId, by: options.by, was: fresh.state }, 'job requeued')
    // a malleable job runs again from the start at its first size, with no resize behind it
    const b = boundsOf(fresh)
    if (b !== undefined && (fresh.size !== b.min || resizedFromOf(fresh) !== undefined)) this.store.reshape(jobId, { size: b.min, request: firstRequest(fresh, b), placement: null })
    this.settleDependencies(jobId)
    this.kick()
    return this.store.mustGet(jobId)
  }

  gate (jobId: string, reason: string): void {
    const job = this.store.mustGet(jobId)
    if (job.state !== 'queued' || job.childIds !== undefined) return
    this.gates.set(jobId, reason)
    this.queuedPriorities = null
  }

  openGate (jobId: string): void {
    if (!this.gates.delete(jobId)) return
    this.queuedPriorities = null
    const job = this.store.get(jobId)
    if (job === undefined || job.state !== 'queued') return
    // the pass dropped it while gated: back in the queue when nothing else holds it
    const st = this.dependencies(job)
    if (st.kind === 'never') this.dependencyNeverMet(job, st.reason)
    else if (st.kind === 'met') { this.store.queue.push(job); this.kick() }
  }

  failQueued (jobId: string, reason: string): void {
    this.gates.delete(jobId)
    const job = this.store.get(jobId)
    if (job === undefined || job.state !== 'queued' || job.childIds !== undefined) return
    this.log.info({ jobId, reason }, 'queued job failed')
    this.emit(this.store.transition(jobId, 'failed', { reason }))
  }

  waitReason (jobId: string): string | null {
    const job = this.store.mustGet(jobId)
    if (job.childIds !== undefined) {
      if (job.state !== 'queued' && job.state !== 'running') return null
      for (const id of job.childIds) {
        const r = this.waitReason(id)
        if (r !== null) return `element ${id}: ${r}`
      }
      return null
    }
    if (job.state === 'held') return job.reason ?? 'held'
    if (job.state !== 'queued') return null
    const deps = this.dependencies(job)
    if (deps.kind !== 'met') return deps.reason
    const quotas = this.init.quotas?.()
    if (quotas !== undefined) {
      const over = overRunning(quotas, job, this.runningByOwner().get(ownerOf(job)) ?? 0)
      if (over !== null) return over
    }
    return withDrainNote(explainWait(job, this.cluster, this.higherPriorityAhead(job.priority), this.notes.get(jobId)), job, this.cluster)
  }

  setDrained (peerIds: readonly string[]): void {
    this.cluster.setDrained(peerIds)
    this.kick()
  }

  jobsOn (peerId: string): string[] {
    return [...this.active].filter(([, a]) => a.placement.includes(peerId)).map(([id]) => id)
  }

  planRelocation (jobId: string, pins: RankPins): string[] {
    const job = this.store.mustGet(jobId)
    const a = this.active.get(jobId)
    if (a === undefined || job.state !== 'running') throw new InvalidStateError(`job ${jobId} is ${job.state}, not running; only a running job can be placed again`, { data: { jobId, state: job.state } })
    const placement = this.placeAgain(job, a.placement, pins)
    if (placement === null) {
      const want = [...pins].map(([r, p]) => `rank ${r} on ${nodeLabel(p, this.cluster.labelsOf(p))}`).join(', ')
      throw new CapacityError(`job ${jobId}: no room to place it again${want === '' ? '' : ` with ${want}`} (each rank needs a free slot${(job.request.resources?.memoryMB ?? 0) > 0 ? ` and ${job.request.resources!.memoryMB} MB` : ''} on an up node that is not draining)`, { data: { jobId } })
    }
    return placement
  }

  async relocate (jobId: string, options: { pins: RankPins, reason: string }): Promise<Job> {
    const job = this.store.mustGet(jobId)
    this.planRelocation(jobId, options.pins)
    const a = this.active.get(jobId)!
    const { reason } = options
    this.forget(jobId, a, reason)
    // queued but gated: no pass may place it while its ranks are being stopped
    this.gates.set(jobId, reason)
    this.emit(this.store.transition(jobId, 'queued', { reason, detail: reason }))
    await this.stopQuietly(job, a.placement, reason)
    if (this.storeOrNull === null) return job
    // shares of a cut the stopped run left half done must not mix with the next run's
    this.store.dropIncompleteCuts(jobId, job.size)
    const fresh = this.store.mustGet(jobId)
    if (fresh.state !== 'queued') { this.gates.delete(jobId); this.cluster.release(jobId); this.kick(); return fresh }
    this.resumeNext.add(jobId)
    // placed now, while the stopped run's slots are still reserved for it, so nothing else takes them
    const placement = this.placeAgain(fresh, a.placement, options.pins)
    this.cluster.release(jobId)
    if (placement === null) {
      // a pinned node went away meanwhile: the next pass places it as any queued job (from the cut)
      this.log.warn({ jobId }, 'the relocated job could not be placed as asked; it waits in the queue')
      this.openGate(jobId)
      return this.store.mustGet(jobId)
    }
    this.gates.delete(jobId)
    this.dispatch(fresh, placement, fresh.request.resources?.memoryMB ?? 0)
    return this.store.mustGet(jobId)
  }

  /** A placement for a job placed again (its current slots count as free for it), or null. */
  private placeAgain (job: Job, current: readonly string[], pins: RankPins): string[] | null {
    const memoryMB = job.request.resources?.memoryMB ?? 0
    const own = new Map<string, number>()
    for (const p of current) own.set(p, (own.get(p) ?? 0) + 1)
    const reservation = typeof job.request.reservation === 'string' ? job.request.reservation : undefined
    const candidates = this.cluster.candidates(job.request.placement, memoryMB, reservation, own)
    return placeWithPins(this.strategyFor(job), { jobId: job.id, size: job.size, memoryMB }, candidates, pins)
  }

  /** Queued jobs free to run (dependencies met) with a priority above `priority`. */
  private higherPriorityAhead (priority: number): number {
    if (this.queuedPriorities === null) {
      this.queuedPriorities = this.store.queuedJobs().filter((j) => this.dependencies(j).kind === 'met').map((j) => j.priority).sort((a, b) => b - a)
    }
    // descending: the first index whose priority is not above `priority`
    const p = this.queuedPriorities
    let lo = 0; let hi = p.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if (p[mid]! > priority) lo = mid + 1; else hi = mid }
    return lo
  }

  setting (key: string): string | undefined { return this.store.setting(key) }
  putSetting (key: string, value: string | null): void { this.store.putSetting(key, value) }

  ranksStarted (jobId: string, n: number): void {
    const a = this.active.get(jobId)
    if (a === undefined) return
    a.ranksStarted = n
    const job = this.store.mustGet(jobId)
    this.emitOne({ kind: 'progress', jobId, parentId: job.parentId, state: job.state, at: this.now(), ranksStarted: n, size: job.size })
  }

  reportRank (jobId: string, r: RankRecord): void {
    const job = this.store.mustGet(jobId)
    if (!Number.isInteger(r?.rank) || r.rank < 0 || r.rank >= job.size) throw new BadRequestError(`reportRank(${jobId}): rank must be an integer from 0 to ${job.size - 1} (got ${String(r?.rank)})`)
    if (!Number.isInteger(r.exitCode)) throw new BadRequestError(`reportRank(${jobId}, rank ${r.rank}): exitCode must be an integer (got ${String(r.exitCode)})`)
    const a = this.active.get(jobId)
    if (a === undefined || (job.state !== 'scheduled' && job.state !== 'running')) {
      // a report from an earlier attempt, or after cancel: the job has moved on
      this.log.debug({ jobId, rank: r.rank, state: job.state }, 'late rank report ignored')
      return
    }
    let ended: string | null = null
    // a rank killed from outside (OOM killer, kill -9) lost its slot like a lost node: retried
    // per maxRestarts; its own exception or exit code is retried only with retryFailedRanks
    // a failure in the first run after this broker recovered the job may come from (or be caused
    // by) a rank of the run before: forgiven once, as a lost slot is
    const afterRecovery = r.exitCode !== 0 && this.recovered.delete(jobId)
    const retriable = r.exitCode !== 0 && (this.ft.retryFailedRanks === true || isLostSlot(r) || afterRecovery) && this.ft.recovery !== 'fail'
    const retry = retriable && restartsUsed(job) < this.ft.maxRestarts
    const changes = this.store.atomic((): Change[] => {
      this.store.putRank(jobId, r)
      const out: Change[] = []
      const toRunning = (): void => { if (job.state === 'scheduled') out.push(...this.store.transition(jobId, 'running')) }
      if (r.exitCode !== 0) {
        ended = `rank ${r.rank}${r.peerId !== undefined ? ` on ${nodeLabel(r.peerId, this.cluster.labelsOf(r.peerId))}` : ''} failed: ${r.error ?? `exit code ${r.exitCode}`}`
        if (!retry && retriable) ended += ` (restarts exhausted: ${restartsUsed(job)} of ${this.ft.maxRestarts})`
        // retried: abandon() below stops the other ranks and requeues the job
        if (!retry) out.push(...this.store.transition(jobId, 'failed', { reason: ended }))
        return out
      }
      const ranks = this.store.ranks(jobId)
      if (ranks.length < job.size) return out
      ended = 'succeeded'
      toRunning()
      out.push(...this.store.transition(jobId, 'succeeded', { result: jobValue(ranks), detail: 'all ranks exited 0' }))
      return out
    })
    this.emit(changes)
    if (ended === null) {
      this.emitOne({ kind: 'progress', jobId, parentId: job.parentId, state: job.state, at: this.now(), ranksDone: this.store.ranks(jobId).length, size: job.size })
      return
    }
    // the failure without the node's id: the same program error on another peer is the same failure
    if (retry) {
      if (afterRecovery) this.log.warn({ jobId, rank: r.rank, peerId: r.peerId }, 'a rank failed in the first run after recovery; restarted as part of the recovery')
      // not a failure streak of the program when the run before may have caused it
      const fault = afterRecovery ? undefined : { failure: `rank ${r.rank}: ${r.error ?? `exit code ${r.exitCode}`}` }
      void this.abandon(jobId, a, ended, fault).then(() => { this.kick() })
      return
    }
    this.forget(jobId, a, ended)
    if (ended === 'succeeded') {
      // every rank reported its exit: nothing of the job runs any more, so its slots take the
      // next job now (before the nodes' next report says so); the stop only tidies up there
      this.cluster.release(jobId, { ended: true })
      this.kick()
      void this.stopQuietly(job, a.placement, ended)
      return
    }
    // a failed rank: the others may still run, so the slots stay held until they were told to stop
    void this.stopQuietly(job, a.placement, ended).then(() => { this.cluster.release(jobId); this.kick() })
  }

  schedule (): number {
    if (this.storeOrNull === null) return 0
    return schedulePass({
      store: this.store,
      cluster: this.cluster,
      backfill: this.backfill,
      log: this.log,
      strategyFor: (job) => this.strategyFor(job),
      dispatch: (job, placement, memoryMB) => { this.dispatch(job, placement, memoryMB) },
      dependencies: (job) => this.dependencies(job),
      dependencyNeverMet: (job, reason) => { this.dependencyNeverMet(job, reason) },
      note: (jobId, text) => { this.notes.set(jobId, text) },
      quotas: this.init.quotas?.(),
      running: this.runningByOwner()
    })
  }

  /** Ranks of dispatched jobs per owner: what quotas and fair share count. */
  private runningByOwner (): Map<string, number> {
    const out = new Map<string, number>()
    for (const [id, a] of this.active) {
      const owner = ownerOf(this.store.mustGet(id))
      out.set(owner, (out.get(owner) ?? 0) + a.placement.length)
    }
    return out
  }

  on (_event: 'job', cb: (e: JobChangeEvent) => void): () => void {
    this.listeners.add(cb)
    return () => { this.listeners.delete(cb) }
  }

  private strategyFor (job: Job): SchedulingStrategy {
    const name = job.request.placement?.strategy
    if (name === undefined) return this.current
    let s = this.overrides.get(name)
    if (s === undefined) { s = this.registry.resolve(name); this.overrides.set(name, s) }
    return s
  }

  private dispatch (job: Job, placement: string[], memoryMB: number): void {
    const changes = this.store.transition(job.id, 'scheduled', { placement, reason: null, detail: `placed on ${[...new Set(placement)].join(', ')}` })
    this.cluster.reserve(job.id, placement, memoryMB, typeof job.request.reservation === 'string' ? job.request.reservation : undefined)
    const a: Active = { placement, ctl: new AbortController(), ranksStarted: 0 }
    this.active.set(job.id, a)
    this.emit(changes)
    const resume = this.resumeNext.delete(job.id) || (this.ft.recovery === 'restart' && job.restarts > 0)
    let started: Promise<void>
    try {
      started = this.dispatcher.start(changes[0]!.job, placement, { signal: a.ctl.signal, resume })
    } catch (err) {
      started = Promise.reject(err)
    }
    started.then(() => { this.onStarted(job.id, a) }, (err) => { void this.onStartFailed(job.id, a, err) })
  }

  async resize (jobId: string, n: number, options: { by?: string, signal?: AbortSignal, timeoutMs?: number } = {}): Promise<Job> {
    const job = this.store.mustGet(this.resolveId(jobId))
    const id = job.id
    checkResize(job, n)
    if (job.state !== 'running' || !this.active.has(id) || job.placement === null) throw notRunning(job, n)
    if (n === job.size) return job
    if (this.resizing.has(id)) throw new InvalidStateError(`ResizeJob(${id}, ${n}): a resize of this job is under way`, { data: { jobId: id } })
    const dispatcher = this.dispatcher
    if (dispatcher.requestCut === undefined) throw new UnavailableError(`ResizeJob(${id}, ${n}): this broker cannot reach the job's nodes`)
    const memoryMB = job.request.resources?.memoryMB ?? 0
    const hold = typeof job.request.reservation === 'string' ? job.request.reservation : undefined
    const growKey = `${id}#resize`
    let placement = job.placement.slice(0, n)
    if (n > job.size) {
      const candidates = this.cluster.candidates(job.request.placement, memoryMB, hold)
      const extra = extraRanks(job, n, candidates)
      if (extra === null) throw noRoom(job, n, candidates.reduce((k, c) => k + c.capacity, 0))
      placement = [...job.placement, ...extra]
      // held while the cut is taken, so no other job takes them meanwhile
      this.cluster.reserve(growKey, extra, memoryMB, hold)
    }
    this.resizing.add(id)
    const by = options.by ?? 'user'
    try {
      const t0 = this.now()
      const key = (): CutKey | undefined => { const c = this.store.lastCut(id, job.size)[0]; return c === undefined ? undefined : { attempt: c.attempt, cut: c.seq } }
      const before = key()
      const wait = { timeoutMs: options.timeoutMs ?? 30_000, what: `ResizeJob(${id}, ${n})`, ...(options.signal !== undefined ? { signal: options.signal } : {}) }
      // rank 0 of a layout just dispatched (a resize right after another) may not run yet: ask again
      await askUntil(async () => { await dispatcher.requestCut?.(this.store.mustGet(id)) }, wait)
      const a0 = this.active.get(id)
      await waitForCut(key, before, { ...wait, alive: () => this.active.get(id) === a0 && a0 !== undefined })
      const a = this.active.get(id)
      if (a === undefined) throw notRunning(this.store.mustGet(id), n)
      const t1 = this.now()
      // the old layout stops; the new one resumes from the newest cut every old rank completed
      this.forget(id, a, `resizing to ${n} ranks`)
      await this.stopQuietly(job, a.placement, `resizing to ${n} ranks`)
      this.cluster.release(id, { ended: true })
      const fresh = this.store.mustGet(id)
      const from = key()
      if (fresh.state !== 'running' || from === undefined) return fresh
      const detail = `resized from ${job.size} to ${n} ranks by ${by} (from cut ${from.cut}; the cut took ${t1 - t0} ms, stopping the old ranks ${this.now() - t1} ms)`
      const next = this.store.reshape(id, { size: n, request: resizedRequest(fresh, n, from), placement, from, detail })
      this.log.info({ jobId: id, from: job.size, to: n, cut: from.cut, by }, 'job resized')
      this.redispatch(next, placement, memoryMB, hold)
      return next
    } finally {
      this.cluster.release(growKey)
      this.resizing.delete(id)
      this.lastResizeAt.set(id, this.now())
      this.kick()
    }
  }

  /** Starts a resized job's new layout; a failed start requeues or fails it like any dispatch. */
  private redispatch (job: Job, placement: string[], memoryMB: number, hold: string | undefined): void {
    this.cluster.reserve(job.id, placement, memoryMB, hold)
    const a: Active = { placement, ctl: new AbortController(), ranksStarted: 0 }
    this.active.set(job.id, a)
    this.emitOne({ kind: 'progress', jobId: job.id, parentId: job.parentId, state: job.state, at: this.now(), ranksStarted: 0, size: job.size })
    let started: Promise<void>
    try {
      started = this.dispatcher.start(job, placement, { signal: a.ctl.signal, resume: true })
    } catch (err) {
      started = Promise.reject(err)
    }
    started.then(() => {}, (err) => { void this.onStartFailed(job.id, a, err) })
  }

  /**
   * The automatic policy (BrokerInit.autoResize, a profile's processes.auto): a queued job of
   * higher priority that does not fit shrinks a running malleable job toward its min; with no
   * queued job free to run, a malleable job grows into the free slots up to its max. One resize
   * at a time, each job at most once per cooldown.
   */
  private autoResize (): void {
    if (this.init.autoResize === false || this.resizing.size > 0 || this.storeOrNull === null || this.dispatcher.requestCut === undefined) return
    const now = this.now()
    const cooldown = this.init.resizeCooldownMs ?? 2000
    const malleable = [...this.active.keys()].map((id) => this.store.mustGet(id)).filter((j) => {
      const b = boundsOf(j)
      return b !== undefined && b.auto && j.state === 'running' && now - (this.lastResizeAt.get(j.id) ?? j.startedAt ?? now) >= cooldown
    })
    if (malleable.length === 0) return
    const waiting = this.store.queuedJobs().filter((j) => j.childIds === undefined && this.dependencies(j).kind === 'met')
    const room = (j: Job): number => this.cluster.candidates(j.request.placement, j.request.resources?.memoryMB ?? 0, typeof j.request.reservation === 'string' ? j.request.reservation : undefined).reduce((k, c) => k + c.capacity, 0)
    const d = autoDecision(malleable, waiting, this.cluster.totalFreeSlots(), room)
    if (d === undefined) return
    this.log.info({ jobId: d.job.id, from: d.job.size, to: d.size, why: d.why }, 'automatic resize')
    this.resize(d.job.id, d.size, { by: `policy (${d.why})` }).catch((err: unknown) => { this.log.warn({ err, jobId: d.job.id }, 'automatic resize not done') })
  }

  private onStarted (id: string, a: Active): void {
    if (this.active.get(id) !== a || this.storeOrNull === null) return
    try {
      if (this.store.mustGet(id).state === 'scheduled') this.emit(this.store.transition(id, 'running', { detail: 'all ranks instantiated' }))
      // a malleable job may grow into slots that are free now
      if (boundsOf(this.store.mustGet(id)) !== undefined) this.kick()
    } catch (err) {
      this.log.error({ err, jobId: id }, 'could not mark job running')
    }
  }

  private async onStartFailed (id: string, a: Active, err: unknown): Promise<void> {
    if (this.active.get(id) !== a || this.storeOrNull === null) return
    // not counted toward holding: a refused start says more about the peer than about the job
    await this.abandon(id, a, `dispatch failed: ${toMvmError(err).message}`)
    this.kick()
  }

  /**
   * Gives up a dispatched job: its ranks still running elsewhere are stopped before it can be
   * placed again, its slots freed, and it goes back to the queue or fails per policy.
   */
  private async abandon (id: string, a: Active, reason: string, fault?: Fault): Promise<void> {
    this.forget(id, a, reason)
    await this.stopQuietly(this.store.mustGet(id), a.placement, reason)
    this.cluster.release(id)
    if (this.storeOrNull === null) return
    const fresh = this.store.mustGet(id)
    if (fresh.state === 'scheduled' || fresh.state === 'running') this.emit(this.requeueOrFail(fresh, reason, fault))
  }

  /**
   * Back to the queue while restarts remain (and policy allows), else failed: never silently
   * lost. A job whose runs keep coinciding with node deaths, or keep failing the same way, is
   * held instead: requeued it would take the next peer down with it, or fail there again.
   */
  private requeueOrFail (job: Job, reason: string, fault?: Fault): Change[] {
    const faults = nextFaults(job, fault)
    const after = this.ft.poisonAfter ?? DEFAULT_POISON_AFTER
    // restarts exhausted: failed is final and says so; holding only replaces a retry
    const retries = this.ft.recovery !== 'fail' && restartsUsed(job) < this.ft.maxRestarts
    if (retries && after > 0 && (faults.nodeDeaths >= after || faults.failureStreak >= after)) {
      const why = faults.nodeDeaths >= after
        ? `held: ${faults.nodeDeaths} nodes went down while it ran (last: ${reason}); \`mvm release ${job.id}\` queues it again`
        : `held: failed the same way ${faults.failureStreak} times in a row (${reason}); \`mvm release ${job.id}\` queues it again`
      this.log.warn({ jobId: job.id, ...faults }, 'poison job held')
      return this.store.transition(job.id, 'held', { reason: why, faults })
    }
    if (retries) {
      return this.store.transition(job.id, 'queued', { reason, countRestart: true, faults, detail: `${reason}; requeued (restart ${restartsUsed(job) + 1} of ${this.ft.maxRestarts})` })
    }
    const why = this.ft.recovery === 'fail' ? reason : `${reason} (restarts exhausted: ${restartsUsed(job)} of ${this.ft.maxRestarts})`
    return this.store.transition(job.id, 'failed', { reason: why })
  }

  /** Stops tracking an active job; its slots stay reserved until the caller releases them. */
  private forget (id: string, a: Active, reason: string): void {
    if (this.active.get(id) === a) this.active.delete(id)
    a.ctl.abort(new InvalidStateError(reason))
  }

  private async stopQuietly (job: Job, placement: string[], reason: string): Promise<void> {
    try {
      await this.dispatcher.stop(job, placement, reason)
    } catch (err) {
      this.log.warn({ err, jobId: job.id }, 'dispatcher.stop failed')
    }
  }

  /** Coalesces triggers (submit, job end, node report, policy switch) into one pass on the next turn. */
  private kick (): void {
    if (this.kickPending || this.storeOrNull === null) return
    this.kickPending = true
    setImmediate(() => {
      this.kickPending = false
      try { this.schedule() } catch (err) { this.log.error({ err }, 'scheduling pass failed') }
      try { this.autoResize() } catch (err) { this.log.error({ err }, 'automatic resize failed') }
    })
  }

  private emit (changes: Change[]): void {
    for (const c of changes) {
      this.emitOne({ kind: 'state', jobId: c.job.id, parentId: c.job.parentId, state: c.job.state, from: c.from, reason: c.job.reason, at: c.job.updatedAt })
    }
    // an ended job decides for the jobs waiting on it (after the listeners heard of its end)
    for (const c of changes) {
      if (!isTerminal(c.job.state)) continue
      this.recovered.delete(c.job.id)
      for (const id of this.store.dependents(c.job.id)) this.settleDependencies(id)
    }
  }

  private emitOne (e: JobChangeEvent): void {
    if (e.kind === 'state') {
      this.queuedPriorities = null
      if (e.state !== 'queued') this.notes.delete(e.jobId)
      if (isTerminal(e.state)) { this.gates.delete(e.jobId); this.lastResizeAt.delete(e.jobId) }
    }
    for (const cb of this.listeners) {
      try { cb(e) } catch (err) { this.log.warn({ err }, 'job listener threw') }
    }
  }
}

function checkFaultTolerance (ft: FaultTolerance): void {
  if (!Number.isInteger(ft.maxRestarts) || ft.maxRestarts < 0) throw new BadRequestError(`faultTolerance.maxRestarts: must be an integer >= 0 (got ${String(ft.maxRestarts)})`)
  if (ft.poisonAfter !== undefined && (!Number.isInteger(ft.poisonAfter) || ft.poisonAfter < 0)) throw new BadRequestError(`faultTolerance.poisonAfter: must be an integer >= 0 (got ${String(ft.poisonAfter)})`)
}

/** The job's poison counts after a run given up for `fault` (none: a broker restart, which is nobody's fault). */
function nextFaults (job: Job, fault: Fault | undefined): { nodeDeaths: number, failureStreak: number, lastFailure: string | null } {
  const nodeDeaths = job.nodeDeaths ?? 0
  const streak = job.failureStreak ?? 0
  const last = job.lastFailure ?? null
  if (fault === undefined) return { nodeDeaths, failureStreak: streak, lastFailure: last }
  if ('nodeDeath' in fault) return { nodeDeaths: nodeDeaths + 1, failureStreak: streak, lastFailure: last }
  return { nodeDeaths, failureStreak: fault.failure === last ? streak + 1 : 1, lastFailure: fault.failure }
}

function specName (spec: StrategySpec, s: SchedulingStrategy): string {
  if (typeof spec === 'string') return spec
  if (typeof (spec as { type?: unknown }).type === 'string') return (spec as { type: string }).type
  return s.name
}

/**
 * The node reports a rank killed by an outside signal as `E_RANK_LOST: rank N killed by
 * SIGKILL (outside signal)` (the runtime's RANK_LOST_CODE; the broker does not depend on it).
 */
const RANK_LOST_PREFIX = 'E_RANK_LOST:'

function isLostSlot (r: RankRecord): boolean {
  return typeof r.error === 'string' && r.error.startsWith(RANK_LOST_PREFIX)
}
