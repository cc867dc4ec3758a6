import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { BadRequestError, ErrorCode, NotFoundError, UnavailableError, toMvmError, type Logger, type Startable } from '@mvm/core'
import { createBroker, parseBoundedJson, terminalStates, type Broker, type FaultTolerance, type Job, type NodeView, type StrategySpec } from '@mvm/broker'
import type { Holder } from '@mvm/data'
import { dispatchEnvironment, gateBuilds } from './env-gate.js'
import { dispatchInputs, fetchOutputs, inputIds, inputPin, outputPin, type BrokerData } from './job-data.js'
import type { EffectivePolicy, ScopeTarget } from '@mvm/model'
import { expectBody, type ControlBody, type ControlBodyInit, type ControlType, type RpcPeer } from '@mvm/wire'
import type { BrokerHandlers, JobInfo, SubmitJobRequest } from '@mvm/soap'
import { controlDispatcher } from './dispatcher.js'
import { brokerJobHandlers, jobInfo } from './broker-soap.js'
import { createDataAccess, type DataAccess } from './data-access.js'
import { JobWaiters } from './job-waiters.js'
import { SubmissionCache } from './submission-cache.js'
import { decodeStoredBundle } from './submission.js'
import { PolicyControl, ftOf, quotasOf, strategyOf } from './policy-control.js'
import { rootFiles } from './policy-layers.js'
import { authorizedJobHandlers, policyHandlers } from './policy-soap.js'
import { capacityFor, checkCapacity, shortfall, withHoldReason } from './capacity.js'
import { matchNodes } from './node-match.js'
import { applyJobPolicy } from './policy-jobs.js'
import { RuntimeReservations } from './reservations.js'
import { SelfConfig } from './self-config.js'
import { authorized } from './policy-soap.js'
import { CrossGroup } from './cross-group.js'
import { startMoving, type Moving } from './migrate-soap.js'
import { HeartbeatTimingFollower, type HeartbeatControl } from './heartbeat-timing.js'
import { WaitingJobs } from './cross-group-waiting.js'

const POLICY_UPDATE_TIMEOUT_MS = 10_000
/** Broker setting: where the jobs this broker passed to other groups run. */
const CROSS_GROUP_KEY = 'cross-group-routes'
/** Broker setting: jobs accepted here that another group may run later (what an offer needs). */
const CROSS_GROUP_WAITING_KEY = 'cross-group-waiting'

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
  /** The node's group (a policy pushed down names it). */
  readonly group?: string
  /** This node's peer ID, once started. */
  readonly peerId?: string
  /** This super-peer's link to its parent group's super-peer, for a child group. */
  parentLink?: () => { superPeerId?: string } | undefined
  /** Every broker of the tree (the bootstrap registry): where a job this group refuses may go. */
  brokers?: () => Promise<Array<{ group: string, soapUrl: string }>>
  readonly control: {
    handle: <K extends ControlType>(type: K, handler: (body: Extract<ControlBody, { type: K }>, ctx: { peerId: string }) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>, opts?: { replace?: boolean }) => () => void
    toPeer: (peerId: string) => RpcPeer | undefined
  }
  readonly membership: { view: (opts?: { group?: string, includeChildren?: boolean }) => MemberLike[], get: (peerId: string) => MemberLike | undefined }
  onPeerState: (cb: (e: { peerId: string, state: 'up' | 'down' | 'left' }) => void) => () => void
  extendSoap: (handlers: { Broker?: BrokerHandlers }) => void
  /** Heartbeat timing at run time (policy `monitoring`); without it a change applies when nodes next start. */
  readonly heartbeats?: HeartbeatControl
}

/** The data holder (super-peer) of the group a passed-on job came from, as the bootstrap registry lists it. */
async function originHolders (node: SuperPeerNode, viaGroups: string[]): Promise<Array<{ peerId: string, addrs: string[] }>> {
  if (node.brokers === undefined) return []
  let list: Array<{ group: string, peerId?: unknown, multiaddrs?: unknown }>
  try { list = await node.brokers() } catch { return [] }
  return list.filter((b) => b.group === viaGroups[0] && typeof b.peerId === 'string' && Array.isArray(b.multiaddrs))
    .map((b) => ({ peerId: b.peerId as string, addrs: (b.multiaddrs as unknown[]).filter((a): a is string => typeof a === 'string') }))
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
  /**
   * The node's own peer part, when it has the peer role too: it gets every policy push as the
   * group's other peers do, and returns what it runs (JSON of its policy state).
   */
  localPeer?: { peerId: () => string, receive: (policyJson: string) => string | undefined }
  /**
   * Resolves once a standby super-peer holds the store as it is now (or could not in time):
   * awaited before a submission is answered, so a job id a client holds outlives this node.
   */
  replicated?: () => Promise<void>
}

/** Where the policies applied at run time (ApplyPolicy) are kept in the job store. */
const APPLIED_POLICIES_KEY = 'policy.applied'
/** Where reservations made at run time are kept. */
const RESERVATIONS_KEY = 'reservations'
/** Where every policy version (who, when, what changed) is kept. */
const POLICY_HISTORY_KEY = 'policy.history'

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
  /** Monitoring results choosing the strategy (policy `scheduling.rules`). */
  readonly selfConfig: SelfConfig
  /** Who may read which files of the store (set when the node has a data store). */
  readonly dataAccess: DataAccess | undefined
  /** Jobs passed on to other groups (set once started): calls on their ids follow them. */
  crossGroup: CrossGroup | undefined
  /** Jobs accepted here that wait (dependencies, capacity) and may be passed on later. */
  private waiting: WaitingJobs | undefined
  /** Whether other groups' brokers were registered at the last look (a lone group passes nothing on). */
  private othersExist = false
  private othersCheckedAt = 0
  private roundTimer: NodeJS.Timeout | undefined
  /** When recent jobs failed (ms), for `failuresPerHour`. */
  private failures: number[] = []
  /** Reservations made at run time (`mvm reserve`); unset before start. */
  private reserved: RuntimeReservations | undefined
  /** What each member reported running after the last push (its reply), by peer ID. */
  private readonly nodePolicies = new Map<string, { json: string, atMs: number }>()
  private readonly started = new Map<string, Set<number>>()
  /** Kept across stop/start: a validated profile stays valid. */
  private readonly submissions = new SubmissionCache()
  private readonly cleanups: Array<() => void> = []
  /** Migration and drains (set once started). */
  private moving: Moving | undefined
  private timer: NodeJS.Timeout | undefined
  /** One lifetime: aborted by stop(). */
  private lifetime: AbortController | undefined

  private readonly strategy: StrategySpec
  private readonly faultTolerance: FaultTolerance
  private readonly heartbeat: HeartbeatTimingFollower

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
        environment: async (job) => await dispatchEnvironment(job, init.data),
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
      // a new policy may change the monitoring interval: heartbeats (detection first) and the next round follow it at once
      broadcast: (json) => {
        this.heartbeat.onPolicy(this.policy.effective.spec.monitoring)
        this.broadcast(this.heartbeat.annotate(json))
        this.rescheduleRound()
      }
    }, log, { group: node.group ?? '', target: () => this.scopeTarget() })
    this.heartbeat = new HeartbeatTimingFollower(node.heartbeats)
    this.selfConfig = new SelfConfig((st) => { this.broker.setStrategy(st) }, () => this.broker.strategy(), log)
    this.dataAccess = init.data === undefined ? undefined : createDataAccess({ store: init.data.store, broker: this.broker, policy: () => this.policy.effective, dataDir: init.dataDir, log })
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
    // the node's heartbeat timing came from these files (or its flags): only later changes retime it
    this.heartbeat.baseline(this.policy.effective.spec.monitoring)
    await this.broker.start()
    // before the broker's first pass: a build a restart interrupted runs again before dispatch
    if (this.init.data !== undefined) gateBuilds(this.broker, this.init.data, this.broker.list({ state: 'queued', limit: 10_000 }).map((j) => j.id), this.init.logger)
    await this.policy.restore(storedPolicies(this.broker.setting(APPLIED_POLICIES_KEY)), (texts) => {
      this.broker.putSetting(APPLIED_POLICIES_KEY, texts.length === 0 ? null : JSON.stringify(texts))
    }, { stored: this.broker.setting(POLICY_HISTORY_KEY), save: (json) => { this.broker.putSetting(POLICY_HISTORY_KEY, json) } })
    // a push from the parent group's super-peer; a node with the peer role too passes its share on
    this.cleanups.push(this.node.control.handle('policyUpdate', async (b, ctx) => await this.onPolicyPush(b.policyJson, ctx.peerId), { replace: true }))
    this.cleanups.push(this.broker.on('job', (e) => {
      if (e.kind === 'state' && e.state === 'failed') this.failures.push(Date.now())
    }))
    this.monitorRound()
    this.reserved = new RuntimeReservations({ get: () => this.broker.setting(RESERVATIONS_KEY), put: (json) => { this.broker.putSetting(RESERVATIONS_KEY, json) } })
    this.cleanups.push(this.node.control.handle('jobReport', (b, ctx) => { this.onReport(b, ctx.peerId); return undefined }))
    // kept for a `restart` recovery; a stale one (earlier attempt, other node) is dropped by the broker
    this.cleanups.push(this.node.control.handle('checkpoint', (b, ctx) => {
      this.broker.saveCheckpoint(b.jobId, b.rank, b.stateJson, { seq: b.seq, peerId: ctx.peerId })
      return undefined
    }))
    // a view that is no longer `up` makes the broker requeue or fail that node's jobs
    this.cleanups.push(this.node.onPeerState((e) => {
      this.refresh()
      // a member that (re)joins gets the current version (and says what it then runs)
      // (after the join is acknowledged: the member's channel and link are set up once this event is handled)
      if (e.state === 'up') this.sendPolicySoon(e.peerId)
      else this.nodePolicies.delete(e.peerId)
    }))
    this.refresh()
    this.timer = setInterval(() => { this.refresh(); this.crossGroupRound() }, this.init.refreshMs ?? 1000)
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
      ...(this.dataAccess !== undefined ? { dataAccess: this.dataAccess } : {}),
      shape: (r, written, profile) => applyJobPolicy(r, written, this.specWithReservations(), profile),
      requestCut: async (jobId, peerId) => { await this.requestCut(jobId, peerId) },
      log: this.init.logger,
      // a job with dependencies the group can never run waits for them here, then goes to another group (cross-group-waiting.ts)
      admit: (r) => { checkCapacity(r, this.members(), this.groupName(), this.policy.effective.spec.scheduling.waitForCapacity || (this.mayPassOnLater() && (r.dependsOn ?? []).length > 0)) },
      // jobs between groups (cross-group.ts): a batch's refused submissions go elsewhere; a job that came here fetches its inputs from its group
      passOn: async (refused) => {
        if (this.crossGroup === undefined) throw refused[0]!.err
        return await this.crossGroup.offerMany(refused)
      },
      originHolders: async (via) => await originHolders(this.node, via)
    })
    this.explainQueued(jobs)
    const submitJob = jobs.SubmitJob!
    // decide from the latest reports, not from the last timer tick (up to refreshMs old)
    const replicated = this.init.replicated ?? (async () => {})
    jobs.SubmitJob = async (req, ctx) => { this.refresh(); const r = await submitJob(req, ctx); await replicated(); return r }
    const submitJobs = jobs.SubmitJobs!
    jobs.SubmitJobs = async (req, ctx) => { this.refresh(); const r = await submitJobs(req, ctx); await replicated(); return r }
    const brokers = this.node.brokers
    this.crossGroup = new CrossGroup({
      group: () => this.node.group ?? this.groupName(),
      allowed: () => this.policy.effective.spec.scheduling.crossGroup !== 'forbid',
      brokers: async () => brokers === undefined ? [] : await brokers.call(this.node),
      load: () => this.broker.setting(CROSS_GROUP_KEY) ?? null,
      save: (json) => { this.broker.putSetting(CROSS_GROUP_KEY, json) },
      log: this.init.logger
    })
    this.crossGroup.wrap(jobs)
    this.moving = startMoving({
      broker: this.broker,
      requestCut: async (jobId, peerId) => { await this.requestCut(jobId, peerId) },
      members: (all) => this.node.membership.view({ includeChildren: all === true }),
      group: () => this.node.group ?? this.groupName(),
      info: (j) => jobInfo(this.broker, j, { ranksStarted: (id) => this.ranksStarted(id) }),
      log: this.init.logger
    })
    jobs.MigrateRank = this.moving.handlers.MigrateRank
    const admin = (): 'policy.apply' => 'policy.apply'
    this.waiting = new WaitingJobs({
      broker: this.broker,
      cross: this.crossGroup,
      afterSec: () => this.policy.effective.spec.scheduling.crossGroupAfterSec,
      allowed: () => this.mayPassOnLater(),
      neverFits: (job) => shortfall(job.size, capacityFor(this.members(), job.request.placement), this.groupName()),
      load: () => this.broker.setting(CROSS_GROUP_WAITING_KEY) ?? null,
      save: (json) => { this.broker.putSetting(CROSS_GROUP_WAITING_KEY, json) },
      log: this.init.logger
    })
    this.rememberWaiting(jobs)
    this.outputsHere(jobs)
    this.node.extendSoap({ Broker: { ...authorizedJobHandlers(jobs, this.broker, () => this.policy.effective), ...policyHandlers(this.policy, async (node, subject) => await this.findNodePolicy(node, subject, this.lifetime?.signal), () => ({ reservations: this.reservationsView(), adaptations: this.selfConfig.switches })), Reserve: this.reserveHandler(), DrainNode: authorized(this.moving.handlers.DrainNode, () => this.policy.effective, admin), ResumeNode: authorized(this.moving.handlers.ResumeNode, () => this.policy.effective, admin) } })
  }

  /** A node's drain (see Drains), undefined when it is not drained. */
  drainState (peerId: string): 'draining' | 'drained' | undefined { return this.moving?.drains.state(peerId) }

  /** Asks the node running rank 0 of a coordinated job for a cut at its next checkpoint point. */
  private async requestCut (jobId: string, peerId: string): Promise<void> {
    const rpc = this.node.control.toPeer(peerId)
    if (rpc === undefined) throw new UnavailableError(`job ${jobId}: node ${peerId} (rank 0) is not connected; no cut can be asked for`)
    expectBody(await rpc.request({ type: 'cutRequest', jobId }, { timeoutMs: 10_000 }), 'ack')
  }

  async stop (): Promise<void> {
    if (this.lifetime === undefined) return
    this.lifetime.abort()
    this.lifetime = undefined
    if (this.timer !== undefined) clearInterval(this.timer)
    if (this.roundTimer !== undefined) clearTimeout(this.roundTimer)
    for (const c of this.cleanups.splice(0)) c()
    this.policy.stop()
    await this.broker.stop()
  }

  /**
   * GetJobResult of a job that ran in another group: its outputs are fetched from that group's
   * super-peer into this store first (pinned with the job), so `mvm result --output` given here
   * downloads them from here as for a job of its own.
   */
  private outputsHere (jobs: BrokerHandlers): void {
    const data = this.init.data
    const result = jobs.GetJobResult
    if (data === undefined || result === undefined) return
    jobs.GetJobResult = async (req, ctx) => {
      const res = await result(req, ctx)
      const group = this.crossGroup?.groupOf(req.jobId) ?? (res.jobId !== req.jobId ? this.crossGroup?.groupOf(res.jobId) : undefined)
      const outputs = res.outputs ?? []
      if (group === undefined || outputs.length === 0) return res
      const holders = await originHolders(this.node, [group])
      for (const o of outputs) {
        if (await data.store.getManifest(o.id) !== undefined) continue
        try {
          await data.service.fetch(o.id, holders)
          await data.store.pin(o.id, outputPin(req.jobId))
        } catch (err) {
          this.init.logger.warn({ jobId: req.jobId, output: o.name, group, err: (err as Error).message }, 'an output of a job that ran in another group could not be fetched here; download it from that group\'s broker')
        }
      }
      return res
    }
  }

  /** Whether a job kept here may go to another group later: allowed by the policy, and other groups exist. */
  private mayPassOnLater (): boolean {
    return this.policy.effective.spec.scheduling.crossGroup !== 'forbid' && this.othersExist
  }

  /** The cross-group part of the refresh timer: who else is there (every 10 s), then the waiting jobs' round. */
  private crossGroupRound (): void {
    const brokers = this.node.brokers
    if (brokers !== undefined && Date.now() - this.othersCheckedAt > 10_000) {
      this.othersCheckedAt = Date.now()
      const own = this.node.group ?? this.groupName()
      void brokers.call(this.node).then((list) => { this.othersExist = list.some((b) => b.group !== own && b.soapUrl !== '') }, () => {})
    }
    void this.waiting?.round().catch((err: unknown) => { this.init.logger.warn({ err: (err as Error).message }, 'cross-group round failed') })
  }

  /**
   * Submissions stored here that may later go to another group are remembered: every one while
   * the policy sets `crossGroupAfterSec`, else the ones the group can never run as it is.
   */
  private rememberWaiting (jobs: BrokerHandlers): void {
    const keep = (req: SubmitJobRequest, jobId: string): void => {
      const waiting = this.waiting
      if (waiting === undefined || this.crossGroup?.groupOf(jobId) !== undefined || !this.mayPassOnLater()) return
      let job: Job
      try { job = this.broker.get(jobId) } catch { return }
      // a sweep, or a job taking an earlier job's outputs here, stays in this group
      if (job.childIds !== undefined || ((job.request.instance as { inputsFrom?: unknown[] } | undefined)?.inputsFrom ?? []).length > 0) return
      if (this.policy.effective.spec.scheduling.crossGroupAfterSec !== undefined || shortfall(job.size, capacityFor(this.members(), job.request.placement), this.groupName()) !== undefined) waiting.remember(jobId, req)
    }
    const { SubmitJob, SubmitJobs } = jobs
    if (SubmitJob !== undefined) jobs.SubmitJob = async (req, ctx) => { const res = await SubmitJob(req, ctx); keep(req, res.jobId); return res }
    if (SubmitJobs !== undefined) {
      jobs.SubmitJobs = async (req, ctx) => {
        const res = await SubmitJobs(req, ctx)
        res.submitted.forEach((r, i) => { keep(req.jobs[i]!, r.jobId) })
        return res
      }
    }
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

  /**
   * policyUpdate to every connected member of the group: its peers and the super-peers of its
   * child groups, which push it on to theirs (so a change at the top reaches every node).
   */
  private broadcast (policyJson: string): void {
    const local = this.init.localPeer
    if (local !== undefined) this.recordNodePolicy(local.peerId(), local.receive(policyJson))
    for (const m of this.node.membership.view({ includeChildren: false })) {
      if (m.state === 'up') this.sendPolicy(m.peerId, policyJson)
    }
  }

  private sendPolicy (peerId: string, policyJson: string): void {
    const rpc = this.node.control.toPeer(peerId)
    if (rpc === undefined) return
    rpc.request({ type: 'policyUpdate', policyJson }, { timeoutMs: POLICY_UPDATE_TIMEOUT_MS }).then((reply) => {
      if (reply.type === 'policyUpdate') this.recordNodePolicy(peerId, reply.policyJson)
    }, (err: unknown) => {
      this.init.logger.warn({ peer: peerId, err: (err as Error).message }, 'policyUpdate not acknowledged')
    })
  }

  /** The current policy to a member that just joined, once its channel is open (bounded retries). */
  private sendPolicySoon (peerId: string, attempt = 0): void {
    const timer = setTimeout(() => {
      if (this.lifetime === undefined || this.node.membership.get(peerId)?.state !== 'up') return
      if (this.node.control.toPeer(peerId) === undefined) { if (attempt < 20) this.sendPolicySoon(peerId, attempt + 1); return }
      this.sendPolicy(peerId, this.heartbeat.annotate(this.policy.policyJson()))
    }, 100)
    timer.unref()
  }

  private recordNodePolicy (peerId: string, json: string | undefined): void {
    if (json !== undefined) this.nodePolicies.set(peerId, { json, atMs: Date.now() })
  }

  /** What a member of this group reported running (JSON of its policy state), by peer ID. */
  nodePolicy (peerId: string): string | undefined { return this.nodePolicies.get(peerId)?.json }

  /**
   * A policyUpdate that reached this super-peer: from its parent group's super-peer it is the
   * tree's inter-domain policy (merged here, then pushed on); the reply says what this node runs.
   */
  private async onPolicyPush (json: string, from: string): Promise<ControlBodyInit | undefined> {
    const parent = this.node.parentLink?.()?.superPeerId
    if (parent === undefined || parent !== from) {
      this.init.logger.warn({ from }, 'policyUpdate from a node that is not this group\'s parent super-peer; ignored')
      return undefined
    }
    let push: unknown
    try { push = JSON.parse(json) } catch { this.init.logger.warn({ from }, 'policyUpdate: policyJson is not JSON; ignored'); return undefined }
    this.heartbeat.fromParent(push, from)
    await this.policy.inherit(push, from)
    const self = this.init.localPeer
    const state = self !== undefined ? this.nodePolicy(self.peerId()) : undefined
    return { type: 'policyUpdate', policyJson: state ?? JSON.stringify(this.selfPolicyState()) }
  }

  /**
   * GetPolicy for one node: what a member of this group reported running, or this super-peer's
   * own; a node of a child group is asked of the child groups' super-peers (over SOAP, in turn).
   * @throws NotFoundError when no group below knows the node; BadRequestError when the name is ambiguous
   */
  async findNodePolicy (query: string, subject: string | undefined, signal?: AbortSignal): Promise<string> {
    const members = this.node.membership.view({ includeChildren: false })
    const own = matchNodes(query, members)
    if (own.length > 1) throw new BadRequestError(`node ${query}: matches ${own.length} nodes (${own.map((m) => m.peerId).join(', ')}); give more of the peer ID`)
    const m = own[0]
    const selfId = this.node.peerId
    if (m !== undefined) {
      const reported = this.nodePolicy(m.peerId)
      if (reported !== undefined) return reported
      if (m.peerId === selfId) return JSON.stringify({ peerId: m.peerId, ...this.selfPolicyState() })
      throw new UnavailableError(`node ${m.peerId} has not reported its policy yet (it reports after each push; is it up?)`)
    }
    // a node of a child group: its group's broker knows what it runs
    const children = members.filter((c) => c.peerId !== selfId && c.state === 'up' && c.roles.includes('super-peer') && c.soapUrl !== undefined && c.soapUrl !== '')
    const { createBrokerClient } = await import('@mvm/soap')
    for (const c of children) {
      try {
        const client = createBrokerClient(c.soapUrl!, subject !== undefined ? { subject } : {})
        return (await client.GetPolicy({ timeoutMs: 10_000, ...(signal !== undefined ? { signal } : {}) }, { node: query })).policyJson
      } catch (err) {
        if (toMvmError(err).code !== ErrorCode.NOT_FOUND) throw err
      }
    }
    throw new NotFoundError(`node ${query}: not in group ${this.node.group ?? ''} nor in its child groups`)
  }

  /** This super-peer as a policy's `scope` sees it; undefined before the node has started. */
  private scopeTarget (): ScopeTarget | undefined {
    let peerId: string | undefined
    try { peerId = this.node.peerId } catch { return undefined }
    if (peerId === undefined) return undefined
    return { group: this.node.group ?? '', peerId, labels: this.node.membership.get(peerId)?.labels ?? {} }
  }

  /** This super-peer's own policy state, shaped as a peer reports its own. */
  selfPolicyState (): Record<string, unknown> {
    return { group: this.node.group ?? '', version: this.policy.changes, adoptedAtMs: Date.now(), policy: this.policy.effective }
  }

  /**
   * One monitoring round of self-configuration, then the next after the policy's
   * `monitoring.intervalSec` (read each round, so a policy change counts at once).
   */
  private monitorRound (): void {
    if (this.lifetime === undefined) return
    const spec = this.policy.effective.spec
    if (spec.scheduling.rules.length > 0) {
      const hourAgo = Date.now() - 3_600_000
      this.failures = this.failures.filter((t) => t > hourAgo)
      const loads = this.members().filter((m) => m.state === 'up' && m.roles.includes('peer')).map((m) => m.report.load)
      this.selfConfig.round(spec.scheduling, {
        queueLength: this.broker.countByState().queued ?? 0,
        loadSpread: loads.length === 0 ? 0 : Math.max(...loads) - Math.min(...loads),
        failuresPerHour: this.failures.length
      })
    }
    this.roundTimer = setTimeout(() => { this.monitorRound() }, Math.max(50, spec.monitoring.intervalSec * 1000))
    this.roundTimer.unref()
  }

  private rescheduleRound (): void {
    if (this.roundTimer === undefined || this.lifetime === undefined) return
    clearTimeout(this.roundTimer)
    this.roundTimer = setTimeout(() => { this.monitorRound() }, Math.max(50, this.policy.effective.spec.monitoring.intervalSec * 1000))
    this.roundTimer.unref()
  }

  /** The policy in force with the run-time reservations beside its own. */
  private specWithReservations (): EffectivePolicy['spec'] {
    const spec = this.policy.effective.spec
    const extra = this.reserved?.current() ?? []
    return extra.length === 0 ? spec : { ...spec, scheduling: { ...spec.scheduling, reservations: [...spec.scheduling.reservations, ...extra] } }
  }

  /** Every reservation (policy and run time) with its window and, while active, the slots it holds per node and uses. */
  reservationsView (): Array<Record<string, unknown>> {
    const active = new Map(this.broker.reservations().map((r) => [r.name, r]))
    const now = Date.now()
    return this.specWithReservations().scheduling.reservations.filter((r) => r.to === undefined || Date.parse(r.to) > now).map((r) => ({ ...r, active: active.has(r.name), held: active.get(r.name)?.perPeer ?? {}, used: active.get(r.name)?.used ?? {} }))
  }

  private reserveHandler (): NonNullable<BrokerHandlers['Reserve']> {
    return authorized(async (req) => {
      const subject = typeof req.subject === 'string' && req.subject !== '' ? req.subject : 'anonymous'
      if (this.reserved === undefined) throw new UnavailableError('the broker is not started')
      const res = this.reserved.add(req, subject, this.policy.effective.spec.scheduling.reservations)
      this.init.logger.info({ name: res.name, from: res.from, to: res.to, by: subject }, 'reservation made')
      this.refresh()
      return res
    }, () => this.policy.effective, () => 'policy.apply')
  }

  private refresh (): void {
    // reservations are re-read each round: a window that opened or closed counts at once
    this.broker.setReservations(this.specWithReservations().scheduling.reservations.map((r) => ({
      name: r.name,
      ...(r.slots !== undefined ? { slots: r.slots } : {}),
      ...(r.nodes !== undefined ? { nodes: r.nodes } : {}),
      ...(r.labels !== undefined ? { labels: r.labels } : {}),
      ...(r.from !== undefined ? { fromMs: Date.parse(r.from) } : {}),
      ...(r.to !== undefined ? { toMs: Date.parse(r.to) } : {})
    })))
    const views: NodeView[] = this.node.membership.view({ includeChildren: false })
      .filter((m) => m.roles.includes('peer'))
      .map((m) => ({
        peerId: m.peerId, group: m.group, state: m.state, labels: m.labels,
        totalSlots: m.report.totalSlots, freeSlots: m.report.freeSlots, freeMemoryMB: m.report.freeMemoryMb, load: m.report.load
      }))
    this.broker.updateNodes(views)
    // room may have freed up for the ranks still on drained nodes
    this.moving?.drains.tick()
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
