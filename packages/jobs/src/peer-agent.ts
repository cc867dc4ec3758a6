import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { sleep, type Logger } from '@mvm/core'
import type { ControlBody, ControlBodyInit, ControlType, RpcPeer } from '@mvm/wire'
import type { JobInstance as RunningJob, RankResult, Runtime } from '@mvm/runtime'
import { decodeInstance } from './instance.js'
import { QueueTransport, type StreamHost } from './queue-link.js'

/** The parts of an MVM node the peer agent uses (structural, so @mvm/node need not know jobs). */
export interface PeerNode {
  readonly peerId: string
  readonly control: {
    handle: <K extends ControlType>(type: K, handler: (body: Extract<ControlBody, { type: K }>, ctx: { peerId: string }) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>) => () => void
    toSuperPeer: () => RpcPeer | undefined
  }
  readonly processes: {
    add: (p: { jobId: string, rank: number, pid: number, state: string, startedAt: string }) => void
    dropJob: (jobId: string) => number
  }
  readonly monitor: { setProbe: (p: () => { usedSlots?: number, usedMemoryMb?: number, processes?: number, queueDepth?: number }) => void }
}

export interface PeerAgentInit {
  dataDir: string
  streams: StreamHost
  logger: Logger
  /** Sandbox driver name from the node policy (default `process`). */
  driver?: string
  /** Warm sandbox processes kept ready once the first job arrives. */
  poolSize?: number
}

interface Active { job: RunningJob, ranks: number[], memoryMB: number }

const REPORT_ATTEMPTS = 8

/**
 * A peer's job machinery (steps e–g): on Awaken it loads the runtime and starts the queue
 * proxy (nothing is loaded before a job needs it); on Instantiate it runs its share of the
 * job's ranks; it reports every rank's end to the super-peer; on Terminate it stops them.
 */
export class PeerAgent {
  private runtime: Promise<Runtime> | undefined
  private transport: QueueTransport | undefined
  private readonly active = new Map<string, Active>()
  private readonly unhandle: Array<() => void> = []

  constructor (private readonly node: PeerNode, private readonly init: PeerAgentInit) {
    this.unhandle.push(node.control.handle('awaken', async () => { await this.awaken(); return undefined }))
    this.unhandle.push(node.control.handle('instantiate', async (b) => await this.instantiate(b)))
    this.unhandle.push(node.control.handle('terminate', async (b) => { await this.terminate(b.jobId, b.reason); return undefined }))
    node.monitor.setProbe(() => {
      let slots = 0; let mem = 0
      for (const a of this.active.values()) { slots += a.ranks.length; mem += a.ranks.length * a.memoryMB }
      return { usedSlots: slots, usedMemoryMb: mem, processes: slots }
    })
  }

  private async awaken (): Promise<Runtime> {
    this.runtime ??= (async () => {
      const { createRuntime } = await import('@mvm/runtime')
      const dir = join(this.init.dataDir, 'runtime')
      await mkdir(dir, { recursive: true })
      this.transport = new QueueTransport(this.init.streams, this.init.logger)
      await this.transport.start()
      return createRuntime({ dataDir: dir, driver: this.init.driver ?? 'process', poolSize: this.init.poolSize ?? 0, logger: this.init.logger })
    })()
    try {
      return await this.runtime
    } catch (err) {
      this.runtime = undefined
      throw err
    }
  }

  private async instantiate (b: Extract<ControlBody, { type: 'instantiate' }>): Promise<ControlBodyInit> {
    const rt = await this.awaken()
    const inst = decodeInstance(b.spec)
    const self = this.node.peerId
    const ranks = inst.placement.flatMap((p, r) => p === self ? [r] : [])
    const link = this.transport!.link(inst.jobId, inst.addresses)
    const job = await rt.instantiate({
      jobId: inst.jobId, owner: inst.owner, program: inst.program, graph: inst.graph, placement: inst.placement, self,
      params: inst.params, resources: inst.resources, queue: inst.queue
    }, link)
    this.active.set(inst.jobId, { job, ranks, memoryMB: inst.resources.memoryMB })
    job.onRank((r) => { void this.report(inst.jobId, r) })
    void job.done.then(() => { this.finish(inst.jobId) })
    try {
      await job.start()
    } catch (err) {
      await job.terminate('start failed')
      this.finish(inst.jobId)
      throw err
    }
    const now = new Date().toISOString()
    for (const r of ranks) {
      this.node.processes.add({ jobId: inst.jobId, rank: r, pid: 0, state: 'running', startedAt: now })
      void this.send({ type: 'jobReport', jobId: inst.jobId, rank: r, state: 'RUNNING', startedAtMs: Date.now() })
    }
    this.init.logger.info({ jobId: inst.jobId, ranks }, 'job instantiated')
    return { type: 'instantiateAck', jobId: inst.jobId, ranks }
  }

  async terminate (jobId: string, reason: string): Promise<void> {
    const a = this.active.get(jobId)
    if (a === undefined) { this.transport?.closeJob(jobId); return }
    await a.job.terminate(reason)
    this.finish(jobId)
  }

  private finish (jobId: string): void {
    if (!this.active.delete(jobId)) return
    this.node.processes.dropJob(jobId)
    this.transport?.closeJob(jobId)
  }

  private async report (jobId: string, r: RankResult): Promise<void> {
    const ok = r.exitCode === 0 && r.error === undefined
    await this.send({
      type: 'jobReport', jobId, rank: r.rank,
      state: ok ? 'SUCCEEDED' : (r.reason === 'killed' ? 'CANCELLED' : 'FAILED'),
      exitCode: r.exitCode ?? -1,
      resultJson: r.result === undefined ? '' : JSON.stringify(r.result),
      error: r.error === undefined ? (ok ? '' : `rank ${r.rank} ended: ${r.reason ?? 'exit ' + String(r.exitCode)}`) : `${r.error.code}: ${r.error.message}`,
      startedAtMs: r.startedAtMs, finishedAtMs: r.finishedAtMs
    })
  }

  /** Reports must reach the broker or the job never ends: retry across a super-peer reconnect. */
  private async send (body: ControlBodyInit): Promise<void> {
    for (let i = 0; i < REPORT_ATTEMPTS; i++) {
      const rpc = this.node.control.toSuperPeer()
      try {
        if (rpc !== undefined) { await rpc.request(body, { timeoutMs: 10_000 }); return }
      } catch (err) {
        this.init.logger.warn({ err: (err as Error).message, attempt: i + 1 }, 'job report not delivered; retrying')
      }
      await sleep(Math.min(250 * 2 ** i, 5000))
    }
    this.init.logger.error({ body: body.type }, 'job report lost after retries')
  }

  async stop (): Promise<void> {
    for (const u of this.unhandle.splice(0)) u()
    await Promise.all([...this.active.keys()].map(async (id) => { await this.terminate(id, 'node stopping') }))
    await this.transport?.stop()
    const rt = this.runtime === undefined ? undefined : await this.runtime.catch(() => undefined)
    await (rt as { stop?: () => Promise<void> } | undefined)?.stop?.()
  }
}
