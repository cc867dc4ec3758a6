import { Limits, type ChildReport, type ChildReportAck, type MessageInit, type NodeSummary } from '@mvm/wire'
import { PeerState, type LoadReport, type MemberInfo } from './types.js'

/**
 * Child reports as deltas. A child super-peer used to send its whole subtree with every
 * heartbeat, so the bytes reaching the root grew as N × (nodes below it). Now each report on a
 * control channel is numbered; the first one (and any the parent asks for) carries the whole
 * subtree, the others only the nodes that appeared or changed noticeably and the ids that went.
 * The parent applies a delta only on top of the report just before it and checks the subtree's
 * size after it; anything else (a restarted parent, a lost step) gets a resync request.
 */

/** A node's load may drift this many CPUs before the parent hears of it (totals are always exact). */
export const LOAD_STEP = 0.5
/** Free memory may drift this many MB, or a tenth of it, before the parent hears of it. */
export const MEMORY_STEP_MB = 256

/** What the parent needs to hear about again: identity, slots and work counts exactly; load and memory coarsely. */
export function changedEnough (a: NodeSummary, b: NodeSummary): boolean {
  if (a.soapUrl !== b.soapUrl || a.roles.length !== b.roles.length || a.roles.some((r, i) => r !== b.roles[i])) return true
  const x = a.report; const y = b.report
  if (x.freeSlots !== y.freeSlots || x.totalSlots !== y.totalSlots || x.processes !== y.processes || x.queueDepth !== y.queueDepth) return true
  if (Math.abs(x.load - y.load) >= LOAD_STEP) return true
  return Math.abs(x.freeMemoryMb - y.freeMemoryMb) >= Math.max(MEMORY_STEP_MB, y.freeMemoryMb / 10)
}

/** The child super-peer's side: turns "my subtree now" into the next report for the parent. */
export class ChildReportSender {
  private seq = 0
  private acked = false
  private needFull = true
  private sent = new Map<string, NodeSummary>()

  /** A new control channel to the parent: numbering starts over and the next report is full. */
  reset (): void {
    this.seq = 0
    this.acked = false
    this.needFull = true
    this.sent = new Map()
  }

  /** The parent acknowledged a full report, or asked for one. */
  onAck (ack: Pick<ChildReportAck, 'seq' | 'resync'>): void {
    if (ack.resync) this.needFull = true
    else if (ack.seq > 0 && ack.seq <= this.seq) this.acked = true
  }

  next (group: string, superPeerId: string, nodes: NodeSummary[], totals: LoadReport): MessageInit<ChildReport> {
    this.seq++
    // until the parent shows it applies full reports (an older parent never acknowledges), send only full ones
    const full = this.needFull || !this.acked
    const base = { group, superPeerId, totals, seq: this.seq, count: nodes.length }
    const now = new Map(nodes.map((n) => [n.peerId, n]))
    if (full) {
      this.needFull = false
      this.sent = now
      return { ...base, full: true, nodes }
    }
    const changed: NodeSummary[] = []
    const next = new Map<string, NodeSummary>()
    for (const n of nodes) {
      const before = this.sent.get(n.peerId)
      if (before === undefined || changedEnough(n, before)) { changed.push(n); next.set(n.peerId, n) } else next.set(n.peerId, before)
    }
    const removed = [...this.sent.keys()].filter((id) => !now.has(id))
    this.sent = next
    return { ...base, full: false, nodes: changed, removed }
  }
}

interface ChildGroup {
  group: string
  superPeerId: string
  nodes: Map<string, MemberInfo>
  /** seq of the last report applied; 0 when not in step (waiting for a full report). */
  seq: number
  /** When a resync was last asked for (not more than once an interval while waiting). */
  askedAt: number
}

export interface ChildReportOutcome { ack?: ChildReportAck }

/** The parent super-peer's copy of each child group's subtree, kept from full and delta reports. */
export class ChildViews {
  private readonly groups = new Map<string, ChildGroup>()
  private cache: MemberInfo[] | undefined

  constructor (private readonly resyncEveryMs: number) {}

  /** Applies a report from child super-peer `superPeerId`; says what to answer it. */
  apply (superPeerId: string, r: ChildReport, now = Date.now()): ChildReportOutcome {
    const seq = r.seq
    let c = this.groups.get(r.group)
    if (c === undefined || c.superPeerId !== superPeerId) {
      c = { group: r.group, superPeerId, nodes: new Map(), seq: 0, askedAt: 0 }
      this.groups.set(r.group, c)
      this.cache = undefined
    }
    const toInfo = (n: NodeSummary): MemberInfo => ({
      peerId: n.peerId,
      group: r.group,
      roles: n.roles,
      state: PeerState.up,
      labels: {},
      soapUrl: n.soapUrl,
      multiaddrs: [],
      report: n.report,
      lastSeen: now,
      viaChild: r.group
    })
    if (seq === 0 || r.full) {
      c.nodes = new Map(r.nodes.map((n) => [n.peerId, toInfo(n)]))
      c.seq = seq
      this.cache = undefined
      return seq === 0 ? {} : { ack: { group: r.group, seq, resync: false } }
    }
    if (c.seq === 0 || seq !== c.seq + 1) return this.outOfStep(c, now)
    for (const id of r.removed) c.nodes.delete(id)
    for (const n of r.nodes) c.nodes.set(n.peerId, toInfo(n))
    for (const n of c.nodes.values()) n.lastSeen = now
    this.cache = undefined
    // a full report holds at most Limits.childNodes nodes; deltas may not grow a copy past that either
    if (c.nodes.size !== r.count || c.nodes.size > Limits.childNodes) return this.outOfStep(c, now)
    c.seq = seq
    return {}
  }

  /** A child super-peer is gone: it can no longer vouch for its group's nodes. */
  dropBy (superPeerId: string): void {
    for (const [g, c] of this.groups) if (c.superPeerId === superPeerId) { this.groups.delete(g); this.cache = undefined }
  }

  /** A node of some child group's subtree. */
  find (peerId: string): MemberInfo | undefined {
    for (const c of this.groups.values()) {
      const n = c.nodes.get(peerId)
      if (n !== undefined) return n
    }
    return undefined
  }

  nodes (): MemberInfo[] {
    this.cache ??= [...this.groups.values()].flatMap((c) => [...c.nodes.values()])
    return this.cache
  }

  private outOfStep (c: ChildGroup, now: number): ChildReportOutcome {
    c.seq = 0
    if (now - c.askedAt < this.resyncEveryMs) return {}
    c.askedAt = now
    return { ack: { group: c.group, seq: 0, resync: true } }
  }
}
