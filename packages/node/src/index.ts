/**
 * @packageDocumentation
 * The MVM node: a libp2p host (TCP, Noise, Yamux, Identify, Ping) with a stable Ed25519
 * identity, playing any of three roles — `bootstrap` (information service: which super-peer
 * serves a group), `super-peer` (keeps its group's membership view, detects failures,
 * admits members, reports to a parent group) and `peer` (joins its group's super-peer over
 * one control stream and sends heartbeats) — and a SOAP endpoint (Node, plus Bootstrap and
 * Broker per role). Job machinery plugs in through `control.handle` and `extendSoap`.
 *
 * @example
 * ```ts
 * import { createMvmNode } from '@mvm/node'
 * const sp = createMvmNode({ dataDir: '/tmp/sp', roles: ['bootstrap', 'super-peer'], group: 'lab', soap: { port: 7700 } })
 * await sp.start()
 * const peer = createMvmNode({ dataDir: '/tmp/p1', bootstrap: ['http://127.0.0.1:7700'], group: 'lab' })
 * await peer.start()
 * sp.onPeerState((e) => console.log(e.peerId, e.state))
 * console.log(sp.membership.view())
 * await peer.stop(); await sp.stop()
 * ```
 */
import type { Startable } from '@mvm/core'
import type { Authenticate, HttpRouteHandler, NodeStatus, ServiceHandlers, SoapAuthorize, SoapCallObserver } from '@mvm/soap'
import type { ControlType, DataCounters, RpcPeer } from '@mvm/wire'
import type { ControlHandler } from './control-router.js'
import type { MvmNodeInit } from './init.js'
import type { LinkStatus } from './member.js'
import type { HeartbeatTiming, Retiming } from './membership.js'
import type { UsageProbe } from './monitor.js'
import type { StreamAccess } from './streams.js'
import type { ControlTraffic } from './traffic.js'
import type { NodeMetrics } from '@mvm/metrics'
import { NodeRuntime } from './node.js'
import { composeHost, type MvmHost, type MvmHostInit } from './compose.js'
import { composeStandby } from './standby-host.js'
import type { ProcessTable } from './process-table.js'
import type { LoadReport, MemberInfo, PeerStateListener, Role } from './types.js'
export type { NodeMetrics } from '@mvm/metrics'

export type { MvmNodeInit } from './init.js'
export type { ControlHandler } from './control-router.js'
export type { HeartbeatTiming, Retiming } from './membership.js'
export type { LinkStatus } from './member.js'
export type { Usage, UsageProbe, ResourceSample, ResourceSampler } from './monitor.js'
export { hostSampler } from './monitor.js'
export type { ProcessTable } from './process-table.js'
export { domainProof } from './admission.js'
export { REPLICA_PROTOCOL, type FollowerInfo } from './replica.js'
export { Role, STANDBY_ROLE, type LoadReport, type MemberInfo, type PeerStateListener } from './types.js'
export { loadOrCreateKey } from './keys.js'
export { ChildReportSender, ChildViews, changedEnough } from './child-report.js'
export type { StreamAccess } from './streams.js'
export type { ControlTraffic } from './traffic.js'
export { loadNodeSettings, type FileSettings } from './config.js'
export { lockDataDir, firstFreeDataDir } from './data-dir.js'

export type { MvmHost, MvmHostInit } from './compose.js'

/** A whole node: the overlay and the job machinery of its roles (see {@link MvmHost}). */
export function createMvmHost (init: MvmHostInit): MvmHost {
  return init.standby === true ? composeStandby(init, createMvmNode) : composeHost(init, createMvmNode)
}

export interface MvmNode extends Startable {
  /** Valid once started. */
  readonly peerId: string
  readonly soapUrl: string
  readonly multiaddrs: string[]
  readonly roles: Role[]
  readonly group: string
  /** Extension point for job machinery: control messages by type, channels to members / the super-peer. */
  readonly control: {
    handle: <K extends ControlType>(type: K, handler: ControlHandler<K>, opts?: { replace?: boolean }) => () => void
    /** A joined member's control channel (super-peer side). */
    toPeer: (peerId: string) => RpcPeer | undefined
    /** This node's channel to its group's super-peer (peer side), when joined. */
    toSuperPeer: () => RpcPeer | undefined
  }
  /** The super-peer's group view; empty on other roles. */
  readonly membership: {
    view: (opts?: { group?: string, includeChildren?: boolean }) => MemberInfo[]
    get: (peerId: string) => MemberInfo | undefined
  }
  /** Member state changes seen by this super-peer (up, down, left). */
  onPeerState: (cb: PeerStateListener) => () => void
  /** State of this node's link to its super-peer (peer role) and to its parent group (child super-peer). */
  link: () => LinkStatus | undefined
  parentLink: () => LinkStatus | undefined
  /**
   * Heartbeat timing at run time: what this super-peer expects of its group (`timing`, undefined
   * on other roles), switching it (`retime`, a policy's monitoring section changed) and following
   * a super-peer that said to beat at a new interval (`follow`, from its policy push).
   */
  readonly heartbeats: {
    timing: () => HeartbeatTiming | undefined
    retime: (next: Partial<HeartbeatTiming>) => Retiming | undefined
    follow: (superPeerId: string, heartbeatMs: number) => boolean
  }
  /** Every super-peer of the tree as the bootstrap registry lists them (a job its group refuses may go to another). */
  brokers: () => Promise<Array<{ group: string, soapUrl: string, parentGroup?: string }>>
  /** Whether a peer belongs with this node's group (may fetch its data): admitted members, its super-peers. */
  isGroupPeer: (peerId: string) => Promise<boolean>
  readonly monitor: { setProbe: (probe: UsageProbe) => void, setDataProbe: (probe: (() => DataCounters) | undefined) => void, report: () => LoadReport }
  readonly processes: ProcessTable
  /** Adds SOAP operations (e.g. Broker.SubmitJob), looked up per call. */
  extendSoap: (handlers: ServiceHandlers) => void
  /** Serves a plain HTTP path (and below) on this node's SOAP server, e.g. `/metrics` or a web view. */
  addHttpRoute: (prefix: string, handler: HttpRouteHandler) => void
  /** Whether SOAP calls must carry credentials, read at every call (a super-peer passes its live policy). */
  setClientAuthentication: (required: () => boolean) => void
  /** The role check run before every SOAP operation (a super-peer's policy). */
  setSoapAuthorizer: (authorize: SoapAuthorize) => void
  /** The super-peer's check of credentials (users file), for HTTP routes beside SOAP; undefined on other roles. */
  readonly authenticate: Authenticate | undefined
  /** Told of every SOAP call once answered or refused (the audit log). */
  onSoapCall: (cb: SoapCallObserver) => () => void
  /** This node's Prometheus registry, served at `/metrics`; roles add their sources to it. */
  readonly metrics: NodeMetrics
  /** libp2p streams for job data (the queue protocol); valid once started. */
  readonly streams: StreamAccess
  /** Control-protocol frames sent and received since start (all control channels of this node). */
  controlTraffic: () => ControlTraffic
  status: () => NodeStatus
  /** Stops without Leave, connections reset first: what a crash looks like to the group (tests, `mvm sim` churn). */
  crash: () => Promise<void>
}

export function createMvmNode (init: MvmNodeInit): MvmNode {
  const rt = new NodeRuntime(init)
  return {
    start: async () => { await rt.start() },
    stop: async () => { await rt.stop() },
    isStarted: () => rt.isStarted(),
    get peerId () { return rt.peerId },
    get soapUrl () { return rt.soapUrl },
    get multiaddrs () { return rt.multiaddrs },
    roles: rt.cfg.roles,
    group: rt.cfg.group,
    control: {
      handle: (type, handler, opts) => rt.router.handle(type, handler, opts),
      toPeer: (id) => rt.toPeer(id),
      toSuperPeer: () => rt.toSuperPeer()
    },
    membership: {
      view: (opts) => rt.view(opts),
      get: (id) => rt.memberInfo(id)
    },
    onPeerState: (cb) => rt.onPeerState(cb),
    link: () => rt.link(),
    parentLink: () => rt.parentLink(),
    heartbeats: {
      timing: () => rt.heartbeatTiming(),
      retime: (next) => rt.retimeGroup(next),
      follow: (from, ms) => rt.followHeartbeat(from, ms)
    },
    brokers: async () => await rt.brokers(),
    isGroupPeer: async (id) => await rt.isGroupPeer(id),
    monitor: { setProbe: (p) => { rt.monitor.setProbe(p) }, setDataProbe: (p) => { rt.monitor.setDataProbe(p) }, report: () => rt.monitor.report() },
    processes: rt.processes,
    extendSoap: (h) => { rt.extendSoap(h) },
    addHttpRoute: (prefix, h) => { rt.addHttpRoute(prefix, h) },
    setClientAuthentication: (r) => { rt.setClientAuthentication(r) },
    setSoapAuthorizer: (a) => { rt.setSoapAuthorizer(a) },
    authenticate: rt.authenticate,
    onSoapCall: (cb) => rt.onSoapCall(cb),
    metrics: rt.metrics,
    streams: rt.streams,
    controlTraffic: () => rt.traffic.snapshot(),
    status: () => rt.status(),
    crash: async () => { await rt.crash() }
  }
}
