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

/** The heartbeat timing a super-peer expects of its members. */
export interface HeartbeatTiming { heartbeatMs: number, missedHeartbeats: number }

/** A timing change (`retime`): from what, to what, and until when detection keeps the wider bound. */
export interface Retiming { from: HeartbeatTiming, to: HeartbeatTiming, graceUntilMs: number }

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
  private received = 0
  private timing: HeartbeatTiming
  /**
   * While members switch to a new timing, detection keeps the wider of the old and new bounds
   * (and the longer interval for the missed tally): a member still beating at the old rate, or
   * one that already beats at the new, slower rate, is never marked down for the switch itself.
   */
  private grace: { untilMs: number, intervalMs: number, boundMs: number } | undefined

  constructor (private readonly init: MembershipInit) {
    this.timing = { heartbeatMs: init.heartbeatMs, missedHeartbeats: init.missedHeartbeats }
    this.children = new ChildViews(init.heartbeatMs)
  }

  /** The interval members are told to beat at (JoinAck, policy pushes): the latest timing. */
  get heartbeatMs (): number { return this.timing.heartbeatMs }
  get missedHeartbeats (): number { return this.timing.missedHeartbeats }
  /** Heartbeats received from members since start. */
  get receivedTotal (): number { return this.received }

  /**
   * Switches the timing at run time (a policy's monitoring section changed). Members learn the
   * new interval from the next policy push; until every one had time to (the old bound plus the
   * new one), silence is judged by the wider bound. Returns undefined when nothing changed.
   */
  retime (next: Partial<HeartbeatTiming>): Retiming | undefined {
    const from = { ...this.timing }
    const to = { heartbeatMs: next.heartbeatMs ?? from.heartbeatMs, missedHeartbeats: next.missedHeartbeats ?? from.missedHeartbeats }
    if (to.heartbeatMs === from.heartbeatMs && to.missedHeartbeats === from.missedHeartbeats) return undefined
    const oldBound = this.boundMs()
    const newBound = to.heartbeatMs * to.missedHeartbeats
    const graceUntilMs = Date.now() + oldBound + newBound
    this.grace = { untilMs: graceUntilMs, intervalMs: Math.max(this.intervalMs(), to.heartbeatMs), boundMs: Math.max(oldBound, newBound) }
    this.timing = to
    if (this.timer !== undefined) { this.stop(); this.start() }
    return { from, to, graceUntilMs }
  }

  private inGrace (): boolean {
    if (this.grace !== undefined && Date.now() >= this.grace.untilMs) this.grace = undefined
    return this.grace !== undefined
  }

  private intervalMs (): number { return this.inGrace() ? this.grace!.intervalMs : this.timing.heartbeatMs }
  private boundMs (): number { return this.inGrace() ? this.grace!.boundMs : this.timing.heartbeatMs * this.timing.missedHeartbeats }
  /**
   * Heartbeat intervals members let pass in silence since start: a heartbeat arriving after a
   * gap of k whole intervals counts k-1 (jitter under one interval counts nothing), and a member
   * marked down by silence counts the `missedHeartbeats` that condemned it.
   */
  get missedTotal (): number { return this.missed }

  start (): void {
    if (this.timer !== undefined) return
    // check often enough that detection lags the deadline by at most half an interval
    this.timer = setInterval(() => { this.sweep() }, Math.max(10, Math.floor(this.timing.heartbeatMs / 2)))
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
    this.received++
    if (e.info.state === PeerState.up) this.missed += Math.max(0, Math.floor((now - e.info.lastSeen) / this.intervalMs()) - 1)
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

  /** An admitted member of this group that has not left (down ones may come back). */
  isMember (peerId: string): boolean {
    const e = this.entries.get(peerId)
    return e !== undefined && e.info.state !== PeerState.left
  }

  /** As `view({ includeChildren: true }).find(…)`, without building the view (at the root it holds the whole tree). */
  get (peerId: string): MemberInfo | undefined {
    const e = this.entries.get(peerId)
    if (e !== undefined) return { ...e.info }
    const self = this.init.self()
    return self.peerId === peerId ? self : this.children.find(peerId)
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
    const bound = this.boundMs()
    const deadline = Date.now() - bound
    const { heartbeatMs, missedHeartbeats } = this.timing
    for (const e of this.entries.values()) {
      if (e.info.state === PeerState.up && e.info.lastSeen < deadline) {
        this.missed += missedHeartbeats
        this.setState(e, PeerState.down, `no heartbeat for ${missedHeartbeats} intervals of ${heartbeatMs} ms` + (bound !== heartbeatMs * missedHeartbeats ? ` (${bound} ms while the timing changes)` : ''))
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
