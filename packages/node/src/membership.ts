import type { Logger } from '@mvm/core'
import type { ChildReport } from '@mvm/wire'
import { ChildViews, type ChildReportOutcome } from './child-report.js'
import { PeerState, type LoadReport, type MemberInfo, type PeerStateEvent, type PeerStateListener } from './types.js'

export interface MembershipInit {
  group: string
  heartbeatMs: number
  missedHeartbeats: number
  log: Logger
  /** The super-peer's own entry, refreshed on every view. */
  self: () => MemberInfo
}

interface Entry { info: MemberInfo, session: number }

/**
 * A super-peer's view of its group: who joined, their last monitoring report, and whether
 * they are up. A member silent for `missedHeartbeats` intervals is marked down; a member
 * whose control channel closes without Leave is marked down at once.
 */
export class Membership {
  private readonly entries = new Map<string, Entry>()
  private readonly children: ChildViews
  private readonly listeners = new Set<PeerStateListener>()
  private timer: NodeJS.Timeout | undefined
  private nextSession = 1
  private missed = 0

  constructor (private readonly init: MembershipInit) {
    this.children = new ChildViews(init.heartbeatMs)
  }

  get heartbeatMs (): number { return this.init.heartbeatMs }
  get missedHeartbeats (): number { return this.init.missedHeartbeats }
  /**
   * Heartbeat intervals members let pass in silence since start: a heartbeat arriving after a
   * gap of k whole intervals counts k-1 (jitter under one interval counts nothing), and a member
   * marked down by silence counts the `missedHeartbeats` that condemned it.
   */
  get missedTotal (): number { return this.missed }

  start (): void {
    if (this.timer !== undefined) return
    // check often enough that detection lags the deadline by at most half an interval
    this.timer = setInterval(() => { this.sweep() }, Math.max(10, Math.floor(this.init.heartbeatMs / 2)))
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  onPeerState (cb: PeerStateListener): () => void {
    this.listeners.add(cb)
    return () => { this.listeners.delete(cb) }
  }

  /** Admits (or re-admits after a restart) a member; returns its session token. */
  join (info: Omit<MemberInfo, 'state' | 'lastSeen'>): number {
    const session = this.nextSession++
    const prev = this.entries.get(info.peerId)
    this.entries.set(info.peerId, { info: { ...info, state: PeerState.up, lastSeen: Date.now() }, session })
    this.emit(info.peerId, PeerState.up, prev?.info.state, prev === undefined ? 'joined' : 'rejoined')
    return session
  }

  heartbeat (peerId: string, session: number, report: LoadReport): void {
    const e = this.current(peerId, session)
    if (e === undefined) return
    const now = Date.now()
    if (e.info.state === PeerState.up) this.missed += Math.max(0, Math.floor((now - e.info.lastSeen) / this.init.heartbeatMs) - 1)
    e.info.report = report
    e.info.lastSeen = now
    if (e.info.state !== PeerState.up) this.setState(e, PeerState.up, 'heartbeat resumed')
  }

  leave (peerId: string, session: number, reason: string): void {
    const e = this.current(peerId, session)
    if (e !== undefined && e.info.state !== PeerState.left) this.setState(e, PeerState.left, reason === '' ? 'left' : reason)
  }

  /** The member's control channel closed; ignored for an older session after a rejoin. */
  lost (peerId: string, session: number, reason: string): void {
    const e = this.current(peerId, session)
    if (e !== undefined && e.info.state === PeerState.up) this.setState(e, PeerState.down, reason)
  }

  /** A child super-peer's report (full or delta) from member `superPeerId`; says what to answer it. */
  childReport (superPeerId: string, report: ChildReport): ChildReportOutcome {
    return this.children.apply(superPeerId, report)
  }

  get (peerId: string): MemberInfo | undefined {
    return this.view({ includeChildren: true }).find((m) => m.peerId === peerId)
  }

  /** Own group (self first), then child groups' nodes; `group` filters. */
  view (opts: { group?: string, includeChildren?: boolean } = {}): MemberInfo[] {
    const own = [this.init.self(), ...[...this.entries.values()].map((e) => ({ ...e.info }))]
    const out = opts.includeChildren === false ? own : [...own, ...this.children.nodes()]
    return opts.group === undefined || opts.group === '' ? out : out.filter((m) => m.group === opts.group)
  }

  private current (peerId: string, session: number): Entry | undefined {
    const e = this.entries.get(peerId)
    return e?.session === session ? e : undefined
  }

  private sweep (): void {
    const deadline = Date.now() - this.init.heartbeatMs * this.init.missedHeartbeats
    for (const e of this.entries.values()) {
      if (e.info.state === PeerState.up && e.info.lastSeen < deadline) {
        this.missed += this.init.missedHeartbeats
        this.setState(e, PeerState.down, `no heartbeat for ${this.init.missedHeartbeats} intervals of ${this.init.heartbeatMs} ms`)
      }
    }
  }

  private setState (e: Entry, state: PeerState, reason: string): void {
    const previous = e.info.state
    e.info.state = state
    if (state !== PeerState.up) {
      // a child super-peer that is gone can no longer vouch for its group's nodes
      this.children.dropBy(e.info.peerId)
    }
    this.emit(e.info.peerId, state, previous, reason)
  }

  private emit (peerId: string, state: PeerState, previous: PeerState | undefined, reason: string): void {
    const ev: PeerStateEvent = { peerId, group: this.init.group, state, previous, reason }
    this.init.log.info(ev, `peer ${peerId} ${state} (${reason})`)
    for (const l of this.listeners) {
      try { l(ev) } catch (err) { this.init.log.error({ err }, 'peer-state listener threw') }
    }
  }
}
