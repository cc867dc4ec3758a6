import { join } from 'node:path'
import { mkdir } from 'node:fs/promises'
import { BadRequestError, type Logger } from '@mvm/core'
import { createBroker, type Broker, type FaultTolerance, type NodeView, type StrategySpec } from '@mvm/broker'
import type { ControlBody, ControlBodyInit, ControlType, RpcPeer } from '@mvm/wire'
import type { BrokerHandlers } from '@mvm/soap'
import { controlDispatcher } from './dispatcher.js'
import { brokerJobHandlers } from './broker-soap.js'
import { decodeStoredBundle } from './submission.js'

/** A member as the super-peer's membership view gives it (structural: see @mvm/node MemberInfo). */
export interface MemberLike {
  peerId: string
  group: string
  roles: string[]
  state: 'up' | 'down' | 'left'
  labels: Record<string, string>
  multiaddrs: string[]
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

export interface BrokerAgentInit {
  dataDir: string
  logger: Logger
  strategy?: StrategySpec
  faultTolerance?: FaultTolerance
  /** How often the broker refreshes its view from the monitoring reports. */
  refreshMs?: number
}

/**
 * The super-peer as virtual front-end: the broker core, fed by the group's membership and
 * monitoring reports, reaching peers over the control protocol, served over SOAP.
 */
export class BrokerAgent {
  readonly broker: Broker
  private readonly started = new Map<string, Set<number>>()
  private readonly cleanups: Array<() => void> = []
  private timer: NodeJS.Timeout | undefined

  constructor (private readonly node: SuperPeerNode, private readonly init: BrokerAgentInit) {
    const log = init.logger
    this.broker = createBroker({
      dataDir: join(init.dataDir, 'broker'),
      logger: log,
      dispatcher: controlDispatcher({
        channel: (p) => node.control.toPeer(p),
        addresses: (p) => node.membership.get(p)?.multiaddrs ?? [],
        bundle: (job) => job.bundleSha === null ? [] : decodeStoredBundle(this.broker.bundle(job.bundleSha))
      }, log),
      ...(init.strategy !== undefined ? { strategy: init.strategy } : {}),
      ...(init.faultTolerance !== undefined ? { faultTolerance: init.faultTolerance } : {})
    })
  }

  async start (): Promise<void> {
    await mkdir(join(this.init.dataDir, 'broker'), { recursive: true })
    await this.broker.start()
    this.cleanups.push(this.node.control.handle('jobReport', (b, ctx) => { this.onReport(b, ctx.peerId); return undefined }))
    // a view that is no longer `up` makes the broker requeue or fail that node's jobs
    this.cleanups.push(this.node.onPeerState(() => { this.refresh() }))
    this.refresh()
    this.timer = setInterval(() => { this.refresh() }, this.init.refreshMs ?? 1000)
    this.timer.unref()
    this.node.extendSoap({ Broker: brokerJobHandlers(this.broker, { ranksStarted: (id) => this.started.get(id)?.size ?? 0 }) })
  }

  async stop (): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const c of this.cleanups.splice(0)) c()
    await this.broker.stop()
  }

  setStrategy (spec: StrategySpec): void { this.broker.setStrategy(spec) }

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
      try { output = JSON.parse(b.resultJson) } catch { throw new BadRequestError(`job report for ${b.jobId} rank ${b.rank} has malformed resultJson`) }
    }
    const rank = {
      rank: b.rank, exitCode: b.exitCode, peerId,
      ...(output !== undefined ? { output } : {}),
      ...(b.error !== '' ? { error: b.error } : {}),
      startedAtMs: b.startedAtMs, finishedAtMs: b.finishedAtMs
    }
    this.broker.reportRank(b.jobId, rank)
  }
}
