import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import pRetry from 'p-retry'
import { realpathSync } from 'node:fs'
import { InvalidStateError, UnavailableError, combineSignals, hidePaths, shortPeerId, type Logger, type Startable, type PathAlias } from '@mvm/core'
import { Limits, decodeInstance, type ControlBody, type ControlBodyInit, type ControlType, type RpcPeer } from '@mvm/wire'
import type { InstanceFiles, PortStats, RunningJob, RankOutcome, Runtime, RuntimeInit } from '@mvm/runtime'
import { JobData, type NodeData } from './job-data.js'
import { QueueProxy, type StreamHost } from '@mvm/queue/proxy'

/** The parts of an MVM node the peer agent uses (structural, so @mvm/node need not know jobs). */
export interface PeerNode {
  readonly peerId: string
  readonly control: {
    handle: <K extends ControlType>(type: K, handler: (body: Extract<ControlBody, { type: K }>, ctx: { peerId: string, signal: AbortSignal }) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>) => () => void
    toSuperPeer: () => RpcPeer | undefined
  }
  readonly processes: {
    add: (p: { jobId: string, rank: number, pid: number, state: string, startedAt: string }) => void
    remove: (jobId: string, rank: number) => boolean
    dropJob: (jobId: string) => number
  }
  readonly monitor: { setProbe: (p: () => { usedSlots?: number, usedMemoryMB?: number, processes?: number, queueDepth?: number, ports?: PortStats[] }) => void }
}

export interface PeerAgentInit {
  dataDir: string
  streams: StreamHost
  logger: Logger
  /** Sandbox driver name from the node policy (default `process`). */
  driver?: string
  /** Warm sandbox processes kept ready once the first job arrives. */
  poolSize?: number
  /** Memory class of the warm sandboxes: jobs asking for this much use them (policy `sandbox.defaults.memoryMB`). */
  poolMemoryMB?: number
  /** Policy `sandbox.reuseForSameOwner`: a finished rank's process serves the same owner's next rank (runtime default: yes). */
  reuseForSameOwner?: boolean
  /** The node was started with a policy of its own: domain updates do not change its sandbox. */
  ownPolicy?: boolean
  /** The node's data layer, or how to open it at the first job with files (a peer-only node loads no store before); without it, a job with inputs or outputs is refused. */
  data?: NodeData | (() => Promise<NodeData>)
  /**
   * Makes the runtime on the first Awaken instead of `@mvm/runtime` (sandboxed processes):
   * `mvm sim` gives simulated ranks here; everything else in the agent stays as it is.
   */
  runtime?: RuntimeFactory
}

/** What a runtime is made from: the settings the agent would give `createRuntime`. */
export type RuntimeFactory = (init: RuntimeInit) => Promise<Runtime> | Runtime

interface Active {
  job: RunningJob
  ranks: number[]
  memoryMB: number
  /** The control session the job was instantiated over: only that broker life wants its reports. */
  session: RpcPeer | undefined
  /** Set once the broker (or this agent) stops the job: its ranks' ends are not reported. */
  stopping: boolean
  /** Per rank: the newest checkpoint not yet sent, and whether a send is under way. */
  checkpoints: Map<number, { seq: number, json: string | undefined, sending: boolean }>
}

const REPORT_ATTEMPTS = 8
/** How often running jobs are checked against the current super-peer session. */
const SESSION_CHECK_MS = 250

/**
 * A peer's job machinery (steps e–g): on Awaken it loads the runtime and starts the queue
 * proxy (nothing is loaded before a job needs it); on Instantiate it runs its share of the
 * job's ranks; it reports every rank's end to the super-peer; on Terminate it stops them.
 *
 * A job belongs to the control session it arrived on. When that session ends (super-peer
 * restarted, link lost) the broker has already requeued or failed the job, so its ranks here
 * are stopped and their reports dropped: a late report must never count for a later run.
 */
export class PeerAgent implements Startable {
  private runtime: Promise<Runtime> | undefined
  private loaded: Runtime | undefined
  /** Job bytes (program bundles) received in Instantiate messages since start. */
  bytesReceived = 0
  private transport: QueueProxy | undefined
  private pathAliases: PathAlias[] | undefined
  private readonly active = new Map<string, Active>()
  /** Instantiations under way (before their job is active): a Terminate meanwhile aborts them. */
  private readonly starting = new Map<string, AbortController>()
  private readonly unhandle: Array<() => void> = []
  private watchdog: NodeJS.Timeout | undefined
  /** One lifetime: aborted by stop(), so work a handler started ends with the agent. */
  private lifetime: AbortController | undefined
  private jobData: JobData | undefined

  constructor (private readonly node: PeerNode, private readonly init: PeerAgentInit) {}

  isStarted (): boolean { return this.lifetime !== undefined }

  /** The current init (a domain policy update may change driver and pool before the first job). */
  settings (): Readonly<PeerAgentInit> { return this.init }

  async start (): Promise<void> {
    if (this.lifetime !== undefined) return
    const life = new AbortController()
    this.lifetime = life
    const { node } = this
    this.unhandle.push(node.control.handle('awaken', async (_b, ctx) => { await this.awaken(this.signal(ctx.signal)); return undefined }))
    this.unhandle.push(node.control.handle('instantiate', async (b, ctx) => await this.instantiate(b, this.signal(ctx.signal))))
    this.unhandle.push(node.control.handle('terminate', async (b, ctx) => {
      // from this node's own Node.Terminate (an operator), not from the broker: the broker still
      // counts the job as running, so the ends of its ranks here must be reported to it
      const local = ctx.peerId === node.peerId
      const ranks = local ? this.active.get(b.jobId) : undefined
      await this.terminate(b.jobId, b.reason)
      if (ranks !== undefined) await this.reportTerminated(b.jobId, ranks, b.reason)
      return undefined
    }))
    this.unhandle.push(node.control.handle('cutRequest', (b) => {
      const a = this.active.get(b.jobId)
      if (a === undefined || !a.job.requestCut()) throw new InvalidStateError(`job ${b.jobId}: rank 0 is not running on this node`)
      return undefined
    }))
    node.monitor.setProbe(() => {
      let slots = 0; let mem = 0
      for (const a of this.active.values()) { slots += a.ranks.length; mem += a.ranks.length * a.memoryMB }
      // the heartbeat takes the traffic to the super-peer (its web view draws it per edge)
      return { usedSlots: slots, usedMemoryMB: mem, processes: slots, ports: this.portStats() }
    })
  }

  /**
   * Applies a domain policy pushed by the super-peer: its sandbox section becomes the driver
   * and pool of the runtime the next first job loads. A peer started with its own policy keeps
   * it (the node level overrides the domain's); returns whether the update was adopted.
   */
  adoptSandbox (sandbox: { driver: string, poolSize: number, reuseForSameOwner?: boolean } | null | undefined): boolean {
    if (this.init.ownPolicy === true || sandbox === undefined || sandbox === null) return false
    this.init.driver = sandbox.driver
    this.init.poolSize = sandbox.poolSize
    if (typeof sandbox.reuseForSameOwner === 'boolean') this.init.reuseForSameOwner = sandbox.reuseForSameOwner
    return true
  }

  /**
   * The sandbox part of the policy this node merged (its own node level over what the super-peer
   * pushed): driver, pool, reuse and pool memory class of the runtime the next first job loads.
   */
  adoptPolicySandbox (s: { driver: string, poolSize: number, reuseForSameOwner: boolean, memoryMB: number }): void {
    this.init.driver = s.driver
    this.init.poolSize = s.poolSize
    this.init.reuseForSameOwner = s.reuseForSameOwner
    this.init.poolMemoryMB = s.memoryMB
  }

  /** A handler's channel signal joined with the agent's lifetime. */
  private signal (channel: AbortSignal): AbortSignal {
    return this.lifetime === undefined ? channel : combineSignals([channel, this.lifetime.signal])
  }

  /**
   * Checks for orphaned jobs while any runs: an idle peer keeps no timer (a 250 ms one per peer
   * was 40,000 wake-ups a second in a 10,000-peer simulation).
   */
  private watch (): void {
    if (this.watchdog !== undefined || this.lifetime === undefined) return
    this.watchdog = setInterval(() => {
      this.dropOrphans()
      if (this.active.size === 0) { clearInterval(this.watchdog); this.watchdog = undefined }
    }, SESSION_CHECK_MS)
    this.watchdog.unref()
  }

  private dropOrphans (): void {
    const now = this.node.control.toSuperPeer()
    for (const [jobId, a] of this.active) {
      if (a.session === undefined || a.session === now || a.stopping) continue
      this.init.logger.warn({ jobId }, 'the super-peer session that started this job ended; stopping its ranks')
      void this.terminate(jobId, 'super-peer session ended').catch(() => {})
    }
  }

  /** Items and bytes sent per port by the ranks of the jobs running here (the runtime's counts). */
  portStats (): PortStats[] {
    return [...this.active.values()].flatMap((a) => a.job.portStats())
  }

  /** For metrics: the loaded runtime's pool, undefined before the first job. */
  poolStats (): ReturnType<Runtime['poolStats']> { return this.loaded?.poolStats() }

  private async awaken (signal?: AbortSignal): Promise<Runtime> {
    signal?.throwIfAborted()
    this.runtime ??= (async () => {
      const create: RuntimeFactory = this.init.runtime ?? (await import('@mvm/runtime')).createRuntime
      const dir = join(this.init.dataDir, 'runtime')
      await mkdir(dir, { recursive: true })
      this.transport = new QueueProxy(this.init.streams, this.init.logger)
      await this.transport.start()
      return await create({
        dataDir: dir, driver: this.init.driver ?? 'process', logger: this.init.logger,
        // unset: the runtime's own default keeps a couple of warm sandboxes
        ...(this.init.poolSize !== undefined ? { poolSize: this.init.poolSize } : {}),
        ...(this.init.poolMemoryMB !== undefined ? { poolMemoryMB: this.init.poolMemoryMB } : {}),
        ...(this.init.reuseForSameOwner !== undefined ? { reuseForSameOwner: this.init.reuseForSameOwner } : {})
      })
    })()
    try {
      this.loaded = await this.runtime
      return this.loaded
    } catch (err) {
      this.runtime = undefined
      throw err
    }
  }

  private async instantiate (b: Extract<ControlBody, { type: 'instantiate' }>, channelSignal: AbortSignal): Promise<ControlBodyInit> {
    const inst = decodeInstance(b.spec)
    for (const f of b.bundle) this.bytesReceived += f.content.byteLength
    // a Terminate that overtakes this Instantiate (the broker gave up meanwhile) must win
    const stop = new AbortController()
    this.starting.get(inst.jobId)?.abort(new InvalidStateError(`job ${inst.jobId}: dispatched again`))
    this.starting.set(inst.jobId, stop)
    try {
      return await this.instantiateJob(inst, combineSignals([channelSignal, stop.signal]))
    } finally {
      if (this.starting.get(inst.jobId) === stop) this.starting.delete(inst.jobId)
    }
  }

  private async instantiateJob (inst: ReturnType<typeof decodeInstance>, signal: AbortSignal): Promise<ControlBodyInit> {
    const rt = await this.awaken(signal)
    // a run of this job from an earlier dispatch still here: the broker has given up on it
    if (this.active.has(inst.jobId)) await this.stopActive(inst.jobId, 'dispatched again')
    const session = this.node.control.toSuperPeer()
    const self = this.node.peerId
    const ranks = inst.placement.flatMap((p, r) => p === self ? [r] : [])
    const files = await this.files(inst, signal)
    const link = this.transport!.link(inst.jobId, inst.addresses)
    const job = await rt.instantiate({
      jobId: inst.jobId, owner: inst.owner, program: inst.program, graph: inst.graph, placement: inst.placement, self,
      params: inst.params, resources: inst.resources, queue: inst.queue,
      ...(inst.checkpoint !== undefined ? { checkpoint: inst.checkpoint } : {}),
      ...(inst.resume && inst.restored !== undefined ? { restored: inst.restored } : {})
    }, link, { signal, ...(files === undefined ? {} : { files }) })
    if (files !== undefined) void job.done.then(() => { this.jobData?.release(inst) })
    if (signal.aborted) { await job.terminate('terminated while starting'); this.transport?.closeJob(inst.jobId); signal.throwIfAborted() }
    const entry: Active = { job, ranks, memoryMB: inst.resources.memoryMB, session, stopping: false, checkpoints: new Map() }
    job.onCheckpoint((rank, json) => { this.shipCheckpoint(inst.jobId, entry, rank, json) })
    this.active.set(inst.jobId, entry)
    this.watch()
    // a rank that ended leaves Node.ListProcesses at once: the job's other ranks may run on
    const ended = new Set<number>()
    job.onRank((r) => {
      ended.add(r.rank)
      this.node.processes.remove(inst.jobId, r.rank)
      if (!entry.stopping) void this.report(inst.jobId, r, session)
    })
    void job.done.then(() => { this.finish(inst.jobId, entry) })
    try {
      await job.start({ signal })
    } catch (err) {
      entry.stopping = true
      await job.terminate('start failed')
      this.finish(inst.jobId, entry)
      throw err
    }
    const now = new Date().toISOString()
    const pids = job.pids()
    // fast ranks may already be over (and the job finished): never list or announce those
    for (const r of ranks) {
      if (ended.has(r) || this.active.get(inst.jobId) !== entry) continue
      this.node.processes.add({ jobId: inst.jobId, rank: r, pid: pids[r] ?? 0, state: 'running', startedAt: now })
      void this.send({ type: 'jobReport', jobId: inst.jobId, rank: r, state: 'RUNNING', startedAtMs: Date.now() }, session)
    }
    this.init.logger.info({ jobId: inst.jobId, ranks }, 'job instantiated')
    return { type: 'instantiateAck', jobId: inst.jobId, ranks }
  }

  /** The job's inputs made local (or readable on demand) and its outputs' destination; undefined for a job with neither. */
  private async files (inst: ReturnType<typeof decodeInstance>, signal: AbortSignal): Promise<InstanceFiles | undefined> {
    if ((inst.inputs ?? []).length === 0 && (inst.outputs ?? []).length === 0 && inst.environment?.id === undefined) return undefined
    if (this.init.data === undefined) throw new UnavailableError(`job ${inst.jobId} has inputs, outputs or an environment, and this node has no data store`)
    if (this.jobData === undefined) {
      const data = typeof this.init.data === 'function' ? await this.init.data() : this.init.data
      this.jobData ??= new JobData(data, join(this.init.dataDir, 'data', 'inputs'), this.init.logger)
    }
    return await this.jobData.prepare(inst, signal)
  }

  /**
   * Ships a rank's checkpoint to the broker, so it outlives this node. One send per rank at a
   * time; saves made meanwhile collapse into the newest, since only the last one is ever restored.
   */
  private shipCheckpoint (jobId: string, a: Active, rank: number, json: string): void {
    if (Buffer.byteLength(json, 'utf8') > Limits.checkpointStateBytes) {
      this.init.logger.warn({ jobId, rank, bytes: Buffer.byteLength(json, 'utf8'), limit: Limits.checkpointStateBytes }, 'checkpoint too large to ship; kept on this node only')
      return
    }
    let c = a.checkpoints.get(rank)
    if (c === undefined) { c = { seq: 0, json: undefined, sending: false }; a.checkpoints.set(rank, c) }
    c.json = json
    c.seq++
    if (c.sending) return
    const state = c
    state.sending = true
    void (async () => {
      while (state.json !== undefined && !a.stopping) {
        const body: ControlBodyInit = { type: 'checkpoint', jobId, rank, stateJson: state.json, seq: state.seq }
        state.json = undefined
        await this.send(body, a.session)
      }
    })().finally(() => { state.sending = false })
  }

  /** Stops the job's ranks here; whoever asked knows the job is over, so their ends are not reported. */
  async terminate (jobId: string, reason: string): Promise<void> {
    this.starting.get(jobId)?.abort(new InvalidStateError(`job ${jobId} terminated: ${reason}`))
    await this.stopActive(jobId, reason)
  }

  /** Each of the job's ranks here reported as failed by the termination, so the job leaves `running`. */
  private async reportTerminated (jobId: string, a: Active, reason: string): Promise<void> {
    const at = Date.now()
    await Promise.all(a.ranks.map(async (rank) => {
      await this.send({
        type: 'jobReport', jobId, rank, state: 'FAILED', exitCode: -1, resultJson: '',
        error: this.scrub(`terminated on node ${shortPeerId(this.node.peerId)} (${reason})`), startedAtMs: at, finishedAtMs: at, exitReason: 'killed'
      }, a.session)
    }))
  }

  private async stopActive (jobId: string, reason: string): Promise<void> {
    const a = this.active.get(jobId)
    if (a === undefined) { this.transport?.closeJob(jobId); return }
    a.stopping = true
    await a.job.terminate(reason)
    this.finish(jobId, a)
  }

  private finish (jobId: string, a: Active): void {
    // a later dispatch of the same job may own the entry (and the job's queue links) by now
    if (this.active.get(jobId) !== a) return
    this.active.delete(jobId)
    this.node.processes.dropJob(jobId)
    this.transport?.closeJob(jobId)
  }

  /**
   * A rank's error goes to the broker and on to clients: it must not say where this node keeps
   * its files (a program that reads `../../node.key` is told so, with the data dir as `<data-dir>`).
   */
  private scrub (message: string): string {
    this.pathAliases ??= dataDirAliases(this.init.dataDir)
    return hidePaths(message, this.pathAliases)
  }

  private async report (jobId: string, r: RankOutcome, session: RpcPeer | undefined): Promise<void> {
    const ok = r.exitCode === 0 && r.error === undefined
    await this.send({
      type: 'jobReport', jobId, rank: r.rank,
      state: ok ? 'SUCCEEDED' : (r.reason === 'killed' ? 'CANCELLED' : 'FAILED'),
      exitCode: r.exitCode ?? -1,
      resultJson: r.result === undefined ? '' : JSON.stringify(r.result),
      error: this.scrub(r.error === undefined ? (ok ? '' : `rank ${r.rank} ended: ${r.reason ?? 'exit ' + String(r.exitCode)}`) : `${r.error.code}: ${r.error.message}`),
      startedAtMs: r.startedAtMs, finishedAtMs: r.finishedAtMs,
      cpuSec: r.cpuSec ?? 0, maxRssMb: r.maxRssMB ?? 0, exitReason: r.reason ?? '',
      outputs: ok ? r.outputs ?? [] : []
    }, session)
  }

  /**
   * Reports must reach the broker or the job never ends: retried while the session lasts. Once
   * another session is current the broker has requeued or failed the job, and a report from
   * this run would be taken for the next run's: it is dropped.
   */
  private async send (body: ControlBodyInit, session: RpcPeer | undefined): Promise<void> {
    const attempt = async (): Promise<void> => {
      const rpc = this.node.control.toSuperPeer()
      if (session !== undefined && rpc !== undefined && rpc !== session) {
        this.init.logger.info({ body: body.type, jobId: (body as { jobId?: string }).jobId }, 'job report dropped: the super-peer session it belongs to ended')
        return
      }
      if (rpc === undefined) throw new UnavailableError('no super-peer session')
      // p-retry gives up at once on a TypeError (it takes it for a bug), but a stream torn down
      // mid-request can throw one: every failure here is worth another attempt
      await rpc.request(body, { timeoutMs: 10_000 }).catch((err: unknown) => {
        throw new UnavailableError(`job report not delivered: ${(err as Error).message}`, { cause: err })
      })
    }
    try {
      await pRetry(attempt, {
        retries: REPORT_ATTEMPTS - 1,
        minTimeout: 250,
        maxTimeout: 5000,
        factor: 2,
        randomize: false,
        onFailedAttempt: ({ error, attemptNumber }) => {
          this.init.logger.warn({ err: error.message, attempt: attemptNumber }, 'job report not delivered; retrying')
        }
      })
    } catch {
      this.init.logger.error({ body: body.type }, 'job report lost after retries')
    }
  }

  async stop (): Promise<void> {
    if (this.lifetime === undefined) return
    this.lifetime.abort()
    this.lifetime = undefined
    clearInterval(this.watchdog)
    this.watchdog = undefined
    this.jobData?.stop()
    for (const u of this.unhandle.splice(0)) u()
    await Promise.all([...this.active.keys()].map(async (id) => { await this.terminate(id, 'node stopping') }))
    await this.transport?.stop()
    const rt = this.runtime === undefined ? undefined : await this.runtime.catch(() => undefined)
    await (rt as { stop?: () => Promise<void> } | undefined)?.stop?.()
  }
}

/** The data dir as given and as resolved (a symlinked /tmp names it both ways in errors). */
function dataDirAliases (dataDir: string): PathAlias[] {
  const out: PathAlias[] = [[dataDir, '<data-dir>']]
  try { out.push([realpathSync(dataDir), '<data-dir>']) } catch { /* not made yet: the given path is all there is */ }
  return out
}
