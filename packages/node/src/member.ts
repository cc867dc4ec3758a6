import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { NotAdmittedError, UnavailableError, combineSignals, sleep, toMvmError, type Logger } from '@mvm/core'
import { CONTROL_PROTOCOL, controlChannel, createRpcPeer, expectBody, type ChildReport, type MessageInit, type RpcPeer, type TrafficCounter } from '@mvm/wire'
import { domainProof } from './admission.js'
import type { BootstrapService } from './bootstrap-service.js'
import type { ControlRouter } from './control-router.js'
import type { Host } from './host.js'
import { locateSuperPeer } from './locator.js'
import type { Monitor } from './monitor.js'

export const LinkState = { connecting: 'connecting', joined: 'joined', refused: 'refused', disconnected: 'disconnected', stopped: 'stopped' } as const
export type LinkState = (typeof LinkState)[keyof typeof LinkState]

export interface LinkStatus {
  state: LinkState
  group: string
  superPeerId?: string
  reason?: string
  heartbeatMs?: number
}

export interface MemberInit {
  host: Host
  /** The group to join (a child super-peer joins its parent group). */
  group: string
  roles: string[]
  labels: Record<string, string>
  capacity: { slots: number, memoryMB: number }
  soapUrl: () => string
  bootstraps: string[]
  localBootstrap: BootstrapService | undefined
  domainKey: Uint8Array | undefined
  monitor: Monitor
  router: ControlRouter
  /** Used until the super-peer's JoinAck says otherwise. */
  heartbeatMs: number
  /** A child super-peer's aggregate of its own group, sent with each heartbeat. */
  childReport?: () => MessageInit<ChildReport>
  log: Logger
  onStatus: (s: LinkStatus) => void
  traffic?: TrafficCounter
}

const BACKOFF_MIN_MS = 200
const BACKOFF_MAX_MS = 5000
/** How long a stopping member waits for a broken link to rejoin, to send its Leave. */
const LEAVE_REJOIN_WAIT_MS = 2000

/**
 * The member side of the overlay: finds the group's super-peer through bootstrap, holds one
 * control stream to it, joins, and reports monitoring data every interval. When the
 * super-peer vanishes it starts over with bounded exponential backoff until stopped.
 */
export class Member {
  private readonly lifetime = new AbortController()
  private rpc: RpcPeer | undefined
  private loop: Promise<void> | undefined
  private status: LinkStatus
  /** The interval of the current session (JoinAck, then policy pushes), and how to cut its current wait short. */
  private beatMs = 0
  private wake: (() => void) | undefined
  private readonly joinedWaiters: Array<() => void> = []
  private everJoined = false

  constructor (private readonly init: MemberInit) {
    this.status = { state: LinkState.connecting, group: init.group }
  }

  get link (): LinkStatus { return { ...this.status } }
  get superPeer (): RpcPeer | undefined { return this.status.state === LinkState.joined ? this.rpc : undefined }

  start (): void {
    this.loop ??= this.run()
  }

  async stop (): Promise<void> {
    // a link between sessions (its channel broke a moment ago) is usually back within a backoff:
    // wait a little for it, so the group hears a Leave rather than sees the node go down
    if (this.loop !== undefined && this.everJoined && (this.status.state === LinkState.connecting || this.status.state === LinkState.disconnected)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, LEAVE_REJOIN_WAIT_MS)
        function done (): void { clearTimeout(timer); resolve() }
        this.joinedWaiters.push(done)
      })
    }
    const rpc = this.rpc
    if (rpc !== undefined && this.status.state === LinkState.joined) {
      try {
        // a loaded super-peer can take seconds to answer; without the ack the group sees `down`, not `left`
        await rpc.request({ type: 'leave', reason: 'node stopping' }, { timeoutMs: 8000 })
      } catch (e) {
        this.init.log.debug({ err: toMvmError(e).message }, 'leave not acknowledged')
      }
    }
    this.lifetime.abort(new UnavailableError('node stopping'))
    if (rpc !== undefined) await rpc.close({ signal: AbortSignal.timeout(2000) })
    await this.loop
    this.setStatus({ state: LinkState.stopped, group: this.init.group })
  }

  /**
   * Beats at a new interval from now on (the super-peer's policy changed it): the current wait
   * ends at once, so the first heartbeat at the new rate does not wait out the old interval.
   * Only for the super-peer that sent it (`from`); a rejoin takes the JoinAck's interval again.
   */
  retime (from: string, heartbeatMs: number): boolean {
    if (this.status.state !== LinkState.joined || this.status.superPeerId !== from || heartbeatMs === this.beatMs || !(heartbeatMs >= 10)) return false
    this.beatMs = heartbeatMs
    this.setStatus({ ...this.status, heartbeatMs })
    this.wake?.()
    return true
  }

  private setStatus (s: LinkStatus): void {
    this.status = s
    if (s.state === LinkState.joined) { this.everJoined = true; for (const w of this.joinedWaiters.splice(0)) w() }
    try { this.init.onStatus({ ...s }) } catch {}
  }

  private async run (): Promise<void> {
    const signal = this.lifetime.signal
    let backoff = BACKOFF_MIN_MS
    while (!signal.aborted) {
      try {
        await this.session(signal, () => { backoff = BACKOFF_MIN_MS })
      } catch (e) {
        if (signal.aborted) break
        const err = toMvmError(e)
        const refused = err instanceof NotAdmittedError
        this.setStatus({ state: refused ? LinkState.refused : LinkState.disconnected, group: this.init.group, reason: err.message })
        this.init.log[refused ? 'error' : 'warn']({ code: err.code, retryInMs: backoff }, `group ${this.init.group}: ${err.message}`)
      }
      // jittered: members that lost the same super-peer (or a whole lab booting) must not retry in step
      try { await sleep(Math.round(backoff * (0.5 + Math.random())), signal) } catch { break }
      backoff = Math.min(BACKOFF_MAX_MS, backoff * 2)
    }
  }

  /** One connection to the super-peer: returns or throws when it ends. */
  private async session (signal: AbortSignal, onJoined: () => void): Promise<void> {
    const { host, log, group } = this.init
    this.setStatus({ state: LinkState.connecting, group })
    const target = await locateSuperPeer(group, this.init.bootstraps, this.init.localBootstrap, log, { signal })
    if (target.peerId === host.peerId.toString()) throw new UnavailableError(`this node is the super-peer of group ${group}`)
    const stream = await this.dial(target.multiaddrs, signal)
    const rpc = createRpcPeer(controlChannel(stream, { logger: log, ...(this.init.traffic === undefined ? {} : { traffic: this.init.traffic }) }), { logger: log })
    this.rpc = rpc
    const remote = target.peerId ?? 'super-peer'
    rpc.onRequest(async (body, ctx) => await this.init.router.dispatch(body, { peerId: remote, notification: ctx.notification, signal: ctx.signal }))
    try {
      const hello = expectBody(await rpc.request({ type: 'hello', peerId: host.peerId.toString(), roles: this.init.roles, group }, { timeoutMs: 10_000, signal }), 'hello')
      const proof = this.init.domainKey === undefined ? new Uint8Array(0) : domainProof(this.init.domainKey, hello.nonce, host.peerId.toString())
      const ack = expectBody(await rpc.request({
        type: 'join',
        group,
        roles: this.init.roles,
        labels: this.init.labels,
        capacity: { slots: this.init.capacity.slots, memoryMb: this.init.capacity.memoryMB },
        soapUrl: this.init.soapUrl(),
        multiaddrs: host.getMultiaddrs().map((m) => m.toString()),
        domainProof: proof
      }, { timeoutMs: 10_000, signal }), 'joinAck')
      if (!ack.accepted) throw new NotAdmittedError(`super-peer ${hello.peerId} refused the join: ${ack.reason}`)
      const heartbeatMs = ack.heartbeatIntervalMs > 0 ? ack.heartbeatIntervalMs : this.init.heartbeatMs
      onJoined()
      this.setStatus({ state: LinkState.joined, group, superPeerId: hello.peerId, heartbeatMs })
      log.info({ superPeer: hello.peerId, heartbeatMs }, `joined group ${group}`)
      await this.beat(rpc, heartbeatMs, signal)
    } finally {
      if (!rpc.channel.isClosed) await rpc.close({ signal: AbortSignal.timeout(1000) })
      if (this.rpc === rpc) this.rpc = undefined
    }
  }

  private async dial (addrs: string[], signal: AbortSignal): Promise<Stream> {
    const problems: string[] = []
    for (const a of addrs) {
      try {
        const conn = await this.init.host.dial(multiaddr(a), { signal: combineSignals([signal], 10_000) })
        return await conn.newStream(CONTROL_PROTOCOL, { signal: combineSignals([signal], 10_000) })
      } catch (e) {
        problems.push(`${a}: ${(e as Error).message}`)
      }
    }
    throw new UnavailableError(`cannot reach the super-peer of group ${this.init.group}: ${problems.join('; ') || 'no address'}`)
  }

  /** Heartbeats until the channel closes (throws) or the node stops (returns). */
  private async beat (rpc: RpcPeer, intervalMs: number, signal: AbortSignal): Promise<void> {
    this.beatMs = intervalMs
    const closed = rpc.closed.then((err) => { throw err ?? new UnavailableError(`the super-peer of group ${this.init.group} closed the control channel`) })
    closed.catch(() => {})
    while (!signal.aborted) {
      await rpc.notify({ type: 'heartbeat', report: this.init.monitor.report() }, { signal })
      if (this.init.childReport !== undefined) await rpc.notify({ type: 'childReport', ...this.init.childReport() }, { signal })
      const woken = new Promise<void>((resolve) => { this.wake = resolve })
      await Promise.race([sleep(this.beatMs, signal).catch(() => {}), woken, closed])
      this.wake = undefined
    }
  }
}
