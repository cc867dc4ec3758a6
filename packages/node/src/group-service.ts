import type { Stream } from '@libp2p/interface'
import { ForbiddenError, NotAdmittedError, ProtocolError, toMvmError, type Logger } from '@mvm/core'
import { CONTROL_PROTOCOL, controlChannel, createRpcPeer, type ControlBody, type ControlBodyInit, type RpcPeer, type TrafficCounter } from '@mvm/wire'
import type { Admission } from './admission.js'
import type { ControlRouter } from './control-router.js'
import type { Host } from './host.js'
import type { Membership } from './membership.js'
import { PeerState, type LoadReport } from './types.js'

export interface GroupServiceInit {
  host: Host
  group: string
  roles: string[]
  membership: Membership
  admission: Admission
  router: ControlRouter
  log: Logger
  traffic?: TrafficCounter
  /** Most child super-peers joined at once (policy `monitoring.maxChildGroups`); unbounded when unset. */
  maxChildGroups?: number
}

/** Messages a super-peer sends its members; a member sending one up is refused (it would run work on the super-peer's node). */
export const BROKER_ORDERS: ReadonlySet<string> = new Set(['awaken', 'instantiate', 'terminate', 'policyUpdate'])
/** How long a member may take to finish its side after the super-peer closes a control stream. */
const CLOSE_GRACE_MS = 2000

interface Session {
  remote: string
  rpc: RpcPeer
  nonce: Uint8Array | undefined
  joined: { session: number, group: string } | undefined
}

/**
 * The super-peer side of the control protocol: each member opens one long-lived stream,
 * says Hello (receiving a nonce), Joins with its admission proof, then sends Heartbeats
 * (and, for a child super-peer, ChildReports). Anything else is routed to the lead's handlers.
 */
export class GroupService {
  private readonly sessions = new Map<string, Session>()
  private readonly all = new Set<Session>()

  constructor (private readonly init: GroupServiceInit) {}

  async start (): Promise<void> {
    await this.init.host.handle(CONTROL_PROTOCOL, (stream, connection) => {
      this.accept(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 4, runOnLimitedConnection: false })
  }

  async stop (): Promise<void> {
    await this.init.host.unhandle(CONTROL_PROTOCOL)
    await Promise.all([...this.all].map(async (s) => { await s.rpc.close({ signal: AbortSignal.timeout(2000) }) }))
    this.all.clear()
    this.sessions.clear()
  }

  /** The open control channel of a joined member, for requests from the super-peer to it. */
  peer (peerId: string): RpcPeer | undefined {
    return this.sessions.get(peerId)?.rpc
  }

  private accept (stream: Stream, remote: string): void {
    const log = this.init.log.child({ remote })
    let s: Session
    try {
      const rpc = createRpcPeer(controlChannel(stream, { logger: log, closeTimeoutMs: CLOSE_GRACE_MS, ...(this.init.traffic === undefined ? {} : { traffic: this.init.traffic }) }), { logger: log })
      s = { remote, rpc, nonce: undefined, joined: undefined }
    } catch (e) {
      log.warn({ err: toMvmError(e).message }, 'control stream refused')
      stream.abort(toMvmError(e))
      return
    }
    this.all.add(s)
    s.rpc.onRequest(async (body, ctx) => await this.onMessage(s, body, { peerId: remote, notification: ctx.notification, signal: ctx.signal }))
    void s.rpc.closed.then((err) => {
      this.all.delete(s)
      if (err !== undefined) log.warn({ code: err.code }, `control channel from ${remote} failed: ${err.message}`)
      if (s.joined === undefined) return
      if (this.sessions.get(remote) === s) this.sessions.delete(remote)
      this.init.membership.lost(remote, s.joined.session, err === undefined ? 'control channel closed' : `control channel failed: ${err.message}`)
    })
  }

  private async onMessage (s: Session, body: ControlBody, ctx: { peerId: string, notification: boolean, signal: AbortSignal }): Promise<ControlBodyInit | undefined> {
    const { membership } = this.init
    switch (body.type) {
      case 'hello':
        s.nonce = this.init.admission.nonce()
        return { type: 'hello', peerId: this.init.host.peerId.toString(), roles: this.init.roles, group: this.init.group, nonce: s.nonce }
      case 'join':
        return this.join(s, body)
      default:
        break
    }
    if (s.joined === undefined) {
      this.closeSoon(s)
      throw new NotAdmittedError(`${body.type} before an accepted join`)
    }
    const session = s.joined.session
    switch (body.type) {
      case 'heartbeat':
        membership.heartbeat(s.remote, session, toLoad(body.report))
        return undefined
      case 'leave':
        membership.leave(s.remote, session, body.reason)
        return undefined
      case 'childReport': {
        membership.heartbeat(s.remote, session, toLoad(body.totals))
        const { ack } = membership.childReport(s.remote, { ...body, nodes: body.nodes.map((n) => ({ ...n, report: toLoad(n.report) })) })
        if (ack !== undefined) s.rpc.notify({ type: 'childReportAck', ...ack }).catch(() => {})
        return undefined
      }
      default:
        // a member may report to its broker, never command: orders go from the super-peer down
        if (BROKER_ORDERS.has(body.type)) {
          this.init.log.warn({ remote: s.remote, type: body.type }, 'control message refused: only a super-peer sends it')
          throw new ForbiddenError(`${body.type} is sent by a super-peer to its members, not by a member (${s.remote})`)
        }
        return await this.init.router.dispatch(body, ctx)
    }
  }

  private join (s: Session, body: Extract<ControlBody, { type: 'join' }>): ControlBodyInit {
    const { membership, admission, log } = this.init
    if (s.joined !== undefined) throw new ProtocolError('join sent twice on one control stream')
    let reason: string | undefined
    if (body.group !== this.init.group) reason = `this super-peer serves group ${this.init.group}, not ${body.group}`
    reason ??= admission.check(s.remote, s.nonce ?? new Uint8Array(0), body.domainProof)
    reason ??= this.childBound(s.remote, body.roles)
    if (reason !== undefined) {
      log.warn({ remote: s.remote, mode: admission.mode }, `join refused: ${reason}`)
      this.closeSoon(s)
      return { type: 'joinAck', accepted: false, reason }
    }
    const session = membership.join({
      peerId: s.remote,
      group: body.group,
      roles: body.roles,
      labels: body.labels,
      soapUrl: body.soapUrl,
      multiaddrs: body.multiaddrs,
      report: emptyReport(body.capacity.slots, body.capacity.memoryMb)
    })
    s.joined = { session, group: body.group }
    const prev = this.sessions.get(s.remote)
    this.sessions.set(s.remote, s)
    // a restarted member's old stream may linger: it no longer speaks for the member
    if (prev !== undefined && prev !== s) void prev.rpc.close({ signal: AbortSignal.timeout(1000) })
    return { type: 'joinAck', accepted: true, heartbeatIntervalMs: membership.heartbeatMs, missedHeartbeats: membership.missedHeartbeats }
  }

  /** A child super-peer past the policy's bound is refused, so no super-peer's fan-in grows without limit. */
  private childBound (remote: string, roles: string[]): string | undefined {
    const max = this.init.maxChildGroups
    if (max === undefined || !roles.includes('super-peer')) return undefined
    const children = this.init.membership.view({ includeChildren: false }).slice(1)
      .filter((m) => m.peerId !== remote && m.state === PeerState.up && m.roles.includes('super-peer')).length
    return children >= max ? `this super-peer already has ${children} child super-peers (policy monitoring.maxChildGroups: ${max}); join another group` : undefined
  }

  /**
   * Ends a refused stream once the reply in flight is written (it is queued before the next
   * macrotask). The channel resets it if the client does not finish its side within
   * CLOSE_GRACE_MS, so a client that never closes cannot keep the stream open.
   */
  private closeSoon (s: Session): void {
    setImmediate(() => { void s.rpc.close() })
  }
}

/** A copy of a received report, field by field (the port traffic too: the super-peer's web view and metrics read it). */
function toLoad (r: LoadReport): LoadReport {
  const out: LoadReport = { load: r.load, freeSlots: r.freeSlots, totalSlots: r.totalSlots, freeMemoryMb: r.freeMemoryMb, processes: r.processes, queueDepth: r.queueDepth, timestampMs: r.timestampMs }
  if (r.ports !== undefined && r.ports.length > 0) {
    out.ports = r.ports.map((p) => ({ jobId: p.jobId, rank: p.rank, port: p.port, items: p.items, bytes: p.bytes }))
  }
  if (r.data !== undefined && r.data !== null) out.data = { ...r.data }
  return out
}

export function emptyReport (slots: number, memoryMB: number): LoadReport {
  return { load: 0, freeSlots: slots, totalSlots: slots, freeMemoryMb: memoryMB, processes: 0, queueDepth: 0, timestampMs: Date.now() }
}

export { CONTROL_PROTOCOL }
