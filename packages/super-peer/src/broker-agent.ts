import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { ErrorCode, UnavailableError, type Logger, type Startable } from '@mvm/core'
import { createBroker, parseBoundedJson, terminalStates, type Broker, type FaultTolerance, type Job, type NodeView, type StrategySpec } from '@mvm/broker'
import type { Holder } from '@mvm/data'
import { dispatchInputs, fetchOutputs, inputIds, inputPin, type BrokerData } from './job-data.js'
import type { EffectivePolicy } from '@mvm/model'
import type { ControlBody, ControlBodyInit, ControlType, RpcPeer } from '@mvm/wire'
import type { BrokerHandlers, JobInfo } from '@mvm/soap'
import { controlDispatcher } from './dispatcher.js'
import { brokerJobHandlers } from './broker-soap.js'
import { JobWaiters } from './job-waiters.js'
import { SubmissionCache } from './submission-cache.js'
import { decodeStoredBundle } from './submission.js'
import { PolicyControl, ftOf, quotasOf, strategyOf } from './policy-control.js'
import { rootFiles } from './policy-layers.js'
import { authorizedJobHandlers, policyHandlers } from './policy-soap.js'
import { checkCapacity, withHoldReason } from './capacity.js'

const POLICY_UPDATE_TIMEOUT_MS = 10_000

/** A member as the super-peer's membership view gives it (structural: see @mvm/node MemberInfo). */
export interface MemberLike {
  peerId: string
  group: string
  roles: string[]
  state: 'up' | 'down' | 'left'
  labels: Record<string, string>
  multiaddrs: string[]
  soapUrl?: string
  report: { load: number, freeSlots: number, totalSlots: number, freeMemoryMb: number }
}

export interface SuperPeerNode {
  readonly control: {
    handle: <K extends ControlType>(type: K, handler: (body: Extract<ControlBody, { type: K }>, ctx: { peerId: string }) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>) => () => void
    toPeer: (peerId: string) => RpcPeer | undefined
  }
  readonly membership: { view: (opts?: { group?: string, includeChildren?: boolean }) => MemberLike[], get: (peerId: string) => MemberLike | undefined }
  onPeerState: (cb: (e: { peerId: string, state: 'up' | 'down' | 'left' }) => void) => () => void
  extendSoap: (handlers: { Broker?: BrokerHandlers }) => void
}

/** How often finished jobs past retention are pruned (each run forgets at most 1000 arrays or jobs). */
const PRUNE_EVERY_MS = 10 * 60_000

export interface BrokerAgentInit {
  dataDir: string
  logger: Logger
  strategy?: StrategySpec
  faultTolerance?: FaultTolerance
  /**
   * The node's merged policy: when given, its scheduling strategy and fault tolerance are the
   * broker's starting point (over `strategy`/`faultTolerance`) and its security section
   * authorizes the job operations.
   */
  policy?: EffectivePolicy
  /**
   * The policy files behind `policy`, in the order given to the node: they are watched and an
   * edit is applied at run time. Omitted: the files that set something in `policy` are used.
   */
  policyFiles?: string[]
  /** How often the broker refreshes its view from the monitoring reports. */
  refreshMs?: number
  /** The node's data layer: job inputs are bound to its store, outputs fetched into it. */
  data?: BrokerData
}

/** Where the policies applied at run time (ApplyPolicy) are kept in the job store. */
const APPLIED_POLICIES_KEY = 'policy.applied'

function storedPolicies (raw: string | undefined): string[] {
  if (raw === undefined) return []
  try {
    const v = JSON.parse(raw) as unknown
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
  } catch { return [] }
}

/**
 * The super-peer as virtual front-end: the broker core, fed by the group's membership and
 * monitoring reports, reaching peers over the control protocol, served over SOAP.
 */
export class BrokerAgent implements Startable {
  readonly broker: Broker
  /** Job bytes (program bundles) sent to peers in Instantiate messages since start. */
  bytesSent = 0
  readonly policy: PolicyControl
  private readonly started = new Map<string, Set<number>>()
  /** Kept across stop/start: a validated profile stays valid. */
  private readonly submissions = new SubmissionCache()
  private readonly cleanups: Array<() => void> = []
  private timer: NodeJS.Timeout | undefined
  /** One lifetime: aborted by stop(). */
  private lifetime: AbortController | undefined

  private readonly strategy: StrategySpec
  private readonly faultTolerance: FaultTolerance

  constructor (private readonly node: SuperPeerNode, private readonly init: BrokerAgentInit) {
    const log = init.logger
    const spec = init.policy?.spec
    this.strategy = spec !== undefined ? strategyOf(spec) : init.strategy ?? 'least-loaded'
    this.faultTolerance = spec !== undefined ? ftOf(spec) : init.faultTolerance ?? { recovery: 'requeue', maxRestarts: 3 }
    this.broker = createBroker({
      dataDir: join(init.dataDir, 'broker'),
      logger: log,
      dispatcher: controlDispatcher({
        channel: (p) => node.control.toPeer(p),
        addresses: (p) => node.membership.get(p)?.multiaddrs ?? [],
        bundle: (job) => job.bundleSha === null ? [] : decodeStoredBundle(this.broker.bundle(job.bundleSha)),
        checkpoints: (id) => this.broker.checkpoints(id),
        sent: (n) => { this.bytesSent += n },
        files: (job) => ({
          inputs: dispatchInputs(job, this.broker),
          // this node first (it has every bound input), then the job's other nodes as they fetch
          ...(init.data !== undefined ? { dataHolders: [init.data.self(), ...this.holders(job)] } : {})
        })
      }, log),
      strategy: this.strategy,
      faultTolerance: this.faultTolerance,
      // read at each use: a policy change applies to the next pass and submit
      quotas: () => quotasOf(this.policy.effective.spec)
    })
    this.policy = new PolicyControl({
      setStrategy: (s) => { this.broker.setStrategy(s) },
      setFaultTolerance: (ft) => { this.broker.setFaultTolerance(ft) },
      broadcast: (json) => { this.broadcast(json) }
    }, log)
  }

  isStarted (): boolean { return this.lifetime !== undefined }

  /** Ranks of the job that reported starting (what GetJob shows as ranksStarted). */
  ranksStarted (jobId: string): number { return this.started.get(jobId)?.size ?? 0 }

  async start (): Promise<void> {
    if (this.lifetime !== undefined) return
    this.lifetime = new AbortController()
    await mkdir(join(this.init.dataDir, 'broker'), { recursive: true })
    const files = this.init.policyFiles ?? (this.init.policy !== undefined ? await rootFiles(this.init.policy) : [])
    await this.policy.start(files, { strategy: this.strategy, faultTolerance: this.faultTolerance })
    await this.broker.start()
    await this.policy.restore(storedPolicies(this.broker.setting(APPLIED_POLICIES_KEY)), (texts) => {
      this.broker.putSetting(APPLIED_POLICIES_KEY, texts.length === 0 ? null : JSON.stringify(texts))
    })
    this.cleanups.push(this.node.control.handle('jobReport', (b, ctx) => { this.onReport(b, ctx.peerId); return undefined }))
    // kept for a `restart` recovery; a stale one (earlier attempt, other node) is dropped by the broker
    this.cleanups.push(this.node.control.handle('checkpoint', (b, ctx) => {
      this.broker.saveCheckpoint(b.jobId, b.rank, b.stateJson, { seq: b.seq, peerId: ctx.peerId })
      return undefined
    }))
    // a view that is no longer `up` makes the broker requeue or fail that node's jobs
    this.cleanups.push(this.node.onPeerState((e) => {
      this.refresh()
      // a peer that (re)joins after a run-time change would otherwise miss it
      if (e.state === 'up' && this.policy.changes > 0) this.sendPolicy(e.peerId, this.policy.policyJson())
    }))
    this.refresh()
    this.timer = setInterval(() => { this.refresh() }, this.init.refreshMs ?? 1000)
    this.timer.unref()
    this.pruneHistory()
    const pruner = setInterval(() => { this.pruneHistory() }, PRUNE_EVERY_MS)
    pruner.unref()
    this.cleanups.push(() => { clearInterval(pruner) })
    const waiters = new JobWaiters(this.broker)
    this.cleanups.push(() => { waiters.close() })
    this.unpinEnded()
    const jobs = brokerJobHandlers(this.broker, { ranksStarted: (id) => this.ranksStarted(id) }, {
      cache: this.submissions,
      waiters,
      ...(this.init.data !== undefined ? { data: this.init.data } : {}),
      admit: (r) => { checkCapacity(r, this.members(), this.groupName(), this.policy.effective.spec.scheduling.waitForCapacity) }
    })
    this.explainQueued(jobs)
    const submitJob = jobs.SubmitJob!
    // decide from the latest reports, not from the last timer tick (up to refreshMs old)
    jobs.SubmitJob = async (req, ctx) => { this.refresh(); return await submitJob(req, ctx) }
    const submitJobs = jobs.SubmitJobs!
    jobs.SubmitJobs = async (req, ctx) => { this.refresh(); return await submitJobs(req, ctx) }
    this.node.extendSoap({ Broker: { ...authorizedJobHandlers(jobs, this.broker, () => this.policy.effective), ...policyHandlers(this.policy) } })
  }

  async stop (): Promise<void> {
    if (this.lifetime === undefined) return
    this.lifetime.abort()
    this.lifetime = undefined
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const c of this.cleanups.splice(0)) c()
    this.policy.stop()
    await this.broker.stop()
  }

  /** Forgets finished jobs past the policy's `accounting.retentionDays` (read at each run, so a policy change applies). */
  pruneHistory (): number {
    const days = this.policy.effective.spec.accounting.retentionDays
    if (!(days > 0)) return 0
    try {
      const n = this.broker.prune(Date.now() - days * 86_400_000)
      // a full batch means more are due: go on after the event loop had its turn (heartbeats, SOAP)
      if (n >= 1000 && this.lifetime !== undefined) setImmediate(() => { if (this.lifetime !== undefined) this.pruneHistory() })
      return n
    } catch (err) {
      this.init.logger.warn({ err }, 'history pruning failed; finished jobs are kept')
      return 0
    }
  }

  /** The job's placed peers as holders: a peer that fetched an input serves it to the others. */
  private holders (job: Job): Holder[] {
    return [...new Set(job.placement ?? [])].map((p) => ({ peerId: p, addrs: this.node.membership.get(p)?.multiaddrs ?? [] }))
  }

  /** A job that ended no longer needs its inputs kept here (its outputs stay pinned). */
  private unpinEnded (): void {
    const data = this.init.data
    if (data === undefined) return
    const off = this.broker.on('job', (e) => {
      if (e.kind !== 'state' || !terminalStates.has(e.state)) return
      let job: Job
      try { job = this.broker.get(e.jobId) } catch { return }
      for (const id of inputIds(job)) void data.store.unpin(id, inputPin(job.id)).catch(() => {})
    })
    this.cleanups.push(off)
  }

  private members (): MemberLike[] { return this.node.membership.view({ includeChildren: false }) }

  private groupName (): string {
    const m = this.members()
    return (m.find((x) => x.roles.includes('super-peer')) ?? m[0])?.group ?? 'this group'
  }

  /** GetJob, ListJobs, WaitJob(s): a queued job the group is too small for says why it waits. */
  private explainQueued (jobs: BrokerHandlers): void {
    const explain = (i: JobInfo): JobInfo => {
      if (i.state !== 'queued') return i
      let req
      try { req = this.broker.get(i.jobId).request } catch { req = undefined }
      return withHoldReason(i, req, this.members(), this.groupName())
    }
    const { GetJob, ListJobs, WaitJob, WaitJobs } = jobs
    if (GetJob !== undefined) jobs.GetJob = async (r, c) => explain(await GetJob(r, c))
    if (WaitJob !== undefined) jobs.WaitJob = async (r, c) => explain(await WaitJob(r, c))
    if (ListJobs !== undefined) jobs.ListJobs = async (r, c) => { const o = await ListJobs(r, c); return { ...o, jobs: o.jobs.map(explain) } }
    if (WaitJobs !== undefined) jobs.WaitJobs = async (r, c) => { const o = await WaitJobs(r, c); return { ...o, jobs: o.jobs.map(explain) } }
  }

  /** policyUpdate to every connected member of the group (not the children's super-peers). */
  private broadcast (policyJson: string): void {
    for (const m of this.node.membership.view({ includeChildren: false })) {
      if (m.state === 'up') this.sendPolicy(m.peerId, policyJson)
    }
  }

  private sendPolicy (peerId: string, policyJson: string): void {
    const rpc = this.node.control.toPeer(peerId)
    if (rpc === undefined) return
    rpc.request({ type: 'policyUpdate', policyJson }, { timeoutMs: POLICY_UPDATE_TIMEOUT_MS }).catch((err: unknown) => {
      this.init.logger.warn({ peer: peerId, err: (err as Error).message }, 'policyUpdate not acknowledged')
    })
  }

  private refresh (): void {
    const views: NodeView[] = this.node.membership.view({ includeChildren: false })
      .filter((m) => m.roles.includes('peer'))
      .map((m) => ({
        peerId: m.peerId, group: m.group, state: m.state, labels: m.labels,
        totalSlots: m.report.totalSlots, freeSlots: m.report.freeSlots, freeMemoryMB: m.report.freeMemoryMb, load: m.report.load
      }))
    this.broker.updateNodes(views)
  }

  private onReport (b: Extract<ControlBody, { type: 'jobReport' }>, peerId: string): void {
    if (b.state === 'STARTING' || b.state === 'RUNNING') {
      let s = this.started.get(b.jobId)
      if (s === undefined) { s = new Set(); this.started.set(b.jobId, s) }
      s.add(b.rank)
      this.broker.ranksStarted(b.jobId, s.size)
      return
    }
    let output: unknown
    if (b.resultJson !== '') {
      output = parseBoundedJson(b.resultJson, `job report for ${b.jobId} rank ${b.rank}: resultJson`)
    }
    const outputs = b.outputs ?? []
    if (b.state === 'SUCCEEDED' && outputs.length > 0) { void this.withOutputs(b, peerId, output, outputs); return }
    this.recordRank(b, peerId, output)
  }

  /**
   * A rank that left outputs counts as done only once they are in this node's store: the peer
   * that has them may go away right after, and the next step of a workflow reads them here.
   */
  private async withOutputs (b: Extract<ControlBody, { type: 'jobReport' }>, peerId: string, output: unknown, outputs: Array<{ name: string, id: string, size: number }>): Promise<void> {
    const data = this.init.data
    try {
      if (data === undefined) throw new UnavailableError('this super-peer has no data store')
      await fetchOutputs(data, b.jobId, outputs, { peerId, addrs: this.node.membership.get(peerId)?.multiaddrs ?? [] }, this.init.logger, this.lifetime?.signal)
    } catch (err) {
      this.init.logger.warn({ jobId: b.jobId, rank: b.rank, err: (err as Error).message }, 'outputs not fetched; the rank counts as failed')
      this.recordRank({ ...b, exitCode: 1, error: `${ErrorCode.DATA_UNAVAILABLE}: rank ${b.rank}: its outputs could not be fetched from its node: ${(err as Error).message}`, outputs: [] }, peerId, output)
      return
    }
    this.recordRank(b, peerId, output)
  }

  private recordRank (b: Extract<ControlBody, { type: 'jobReport' }>, peerId: string, output: unknown): void {
    const outputs = b.outputs ?? []
    const rank = {
      rank: b.rank, exitCode: b.exitCode, peerId,
      ...(outputs.length > 0 ? { outputs: outputs.map((o) => ({ name: o.name, id: o.id, size: o.size })) } : {}),
      ...(output !== undefined ? { output } : {}),
      ...(b.error !== '' ? { error: b.error } : {}),
      startedAtMs: b.startedAtMs, finishedAtMs: b.finishedAtMs,
      ...(b.cpuSec > 0 ? { cpuSec: b.cpuSec } : {}),
      ...(b.maxRssMb > 0 ? { maxRssMB: b.maxRssMb } : {}),
      ...(b.exitReason !== '' ? { exitReason: b.exitReason } : {})
    }
    this.broker.reportRank(b.jobId, rank)
  }
}
