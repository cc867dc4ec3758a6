import type { Candidate, NodeView, PlacementConstraints } from './types.js'
import { rankCapacity } from './strategies/capacity.js'
import { heldSlots, type SlotHold } from './holds.js'

interface Known {
  view: NodeView
  epoch: number
  /** Slots and memory of jobs that ended on the node since its report, which still counts them as used. */
  creditSlots: number
  creditMemoryMB: number
}
interface Reservation { perPeer: Map<string, number>, memoryMB: number, epoch: number }
interface MemoryHold { mb: number, epoch: number }

/**
 * The broker's picture of the cluster: the latest monitoring report per node, plus the slots
 * and memory the broker itself has handed out. Reports lag behind decisions (two jobs can be
 * scheduled between two heartbeats), so a node's free slots are the smaller of what it reported
 * and its total minus the broker's reservations; reserved memory counts against a node until
 * a report newer than the reservation arrives (that report already includes it).
 */
export class Cluster {
  private readonly nodes = new Map<string, Known>()
  private readonly reservations = new Map<string, Reservation>()
  private readonly reservedSlots = new Map<string, number>()
  /** peerId → jobId → memory held there by that job. */
  private readonly reservedMemory = new Map<string, Map<string, MemoryHold>>()
  private epoch = 0
  /** Reservations (policy `scheduling.reservations`): their slots go only to the jobs naming them. */
  private holds: SlotHold[] = []
  /** jobId → the reservation it runs in. */
  private readonly jobHold = new Map<string, string>()

  setHolds (holds: readonly SlotHold[]): void { this.holds = [...holds] }

  /** Nodes being drained: up, but given no new ranks (see {@link Cluster.isDrained}). */
  private drained: ReadonlySet<string> = new Set()
  setDrained (peerIds: Iterable<string>): void { this.drained = new Set(peerIds) }
  isDrained (peerId: string): boolean { return this.drained.has(peerId) }
  /** The drained nodes that pass the constraints (to say why a job waits). */
  drainedMatching (c: PlacementConstraints | undefined): NodeView[] {
    return this.eligible(c, true).filter((k) => this.drained.has(k.view.peerId)).map((k) => k.view)
  }

  /** What each active reservation holds now, per peer, and how much of it its jobs use. */
  held (now = Date.now()): Array<{ name: string, perPeer: Map<string, number>, used: Map<string, number> }> {
    const per = heldSlots(this.holds, [...this.nodes.values()].map((k) => k.view), now)
    return [...per].map(([name, perPeer]) => {
      const used = new Map<string, number>()
      for (const [jobId, hold] of this.jobHold) {
        if (hold !== name) continue
        for (const [p, n] of this.reservations.get(jobId)?.perPeer ?? []) used.set(p, (used.get(p) ?? 0) + n)
      }
      return { name, perPeer, used }
    })
  }

  /** Slots on `peerId` held by reservations other than `except` and not used by their jobs. */
  private heldUnused (peerId: string, held: ReturnType<Cluster['held']>, except?: string): number {
    let n = 0
    for (const h of held) if (h.name !== except) n += Math.max(0, (h.perPeer.get(peerId) ?? 0) - (h.used.get(peerId) ?? 0))
    return n
  }

  update (views: readonly NodeView[]): void {
    const epoch = ++this.epoch
    for (const v of views) {
      const had = this.nodes.get(v.peerId)
      // the super-peer re-sends the last report it has on every refresh: that is no news, and
      // must not undo what the broker learned since (jobs that ended there)
      if (had !== undefined && sameReport(had.view, v)) continue
      this.nodes.set(v.peerId, { view: { ...v, labels: { ...v.labels } }, epoch, creditSlots: 0, creditMemoryMB: 0 })
    }
  }

  markDown (peerId: string): void {
    const k = this.nodes.get(peerId)
    if (k !== undefined) k.view = { ...k.view, state: 'down', freeSlots: 0 }
  }

  /** A node's labels as last reported (to name it in messages), if it is known. */
  labelsOf (peerId: string): Record<string, string> | undefined { return this.nodes.get(peerId)?.view.labels }

  views (): NodeView[] { return [...this.nodes.values()].map((k) => ({ ...k.view, ...this.free(k) })) }

  /**
   * Up nodes that satisfy the constraints, with what they can still take of a job needing
   * `memoryMB` per rank. `own`: slots a job being placed again holds now, per node, counted as
   * free for it (its ranks there stop first).
   */
  candidates (c: PlacementConstraints | undefined, memoryMB: number, reservation?: string, own?: ReadonlyMap<string, number>): Candidate[] {
    const out: Candidate[] = []
    const held = this.holds.length === 0 ? [] : this.held()
    // a job naming a reservation runs only on its nodes, and only while it is active
    const mine = reservation === undefined ? undefined : held.find((h) => h.name === reservation)
    if (reservation !== undefined && mine === undefined) return out
    for (const k of this.eligible(c)) {
      if (mine !== undefined && !mine.perPeer.has(k.view.peerId)) continue
      const ownHere = own?.get(k.view.peerId) ?? 0
      const raw = this.free(k, ownHere, ownHere * memoryMB)
      const f = { ...raw, freeSlots: Math.max(0, raw.freeSlots - this.heldUnused(k.view.peerId, held, reservation)) }
      const capacity = rankCapacity(f.freeSlots, f.freeMemoryMB, memoryMB)
      if (capacity > 0) out.push({ ...k.view, ...f, capacity })
    }
    return out
  }

  /**
   * Slots held (and not used) on each peer by active reservations other than `except`, and the
   * names of those reservations: what keeps a job's free slots below what the nodes report.
   */
  heldFrom (except?: string): { perPeer: Map<string, number>, names: string[] } {
    const perPeer = new Map<string, number>()
    const names: string[] = []
    if (this.holds.length === 0) return { perPeer, names }
    const held = this.held()
    for (const k of this.nodes.values()) {
      const n = this.heldUnused(k.view.peerId, held, except)
      if (n > 0) perPeer.set(k.view.peerId, n)
    }
    for (const h of held) {
      if (h.name === except) continue
      for (const [p, n] of h.perPeer) if (n > (h.used.get(p) ?? 0)) { names.push(h.name); break }
    }
    return { perPeer, names }
  }

  /** Whether the reservation of that name is active now (its window open). */
  isHeld (name: string): boolean { return this.holds.length > 0 && this.held().some((h) => h.name === name) }

  /** Up nodes that satisfy the constraints, whatever they have free (to say why a job waits). */
  matching (c: PlacementConstraints | undefined): NodeView[] {
    return this.eligible(c).map((k) => ({ ...k.view, ...this.free(k) }))
  }

  /** Up nodes that pass the constraints: placing a job and explaining its wait must agree on them. */
  private eligible (c: PlacementConstraints | undefined, withDrained = false): Known[] {
    const allowed = c?.nodes !== undefined ? new Set(c.nodes) : undefined
    return [...this.nodes.values()].filter(({ view: v }) =>
      v.state === 'up' && (withDrained || !this.drained.has(v.peerId)) &&
      (c?.group === undefined || v.group === c.group) &&
      (allowed === undefined || allowed.has(v.peerId)) &&
      (c?.labels === undefined || labelsMatch(v.labels, c.labels)))
  }

  /** How many nodes are up, in any group. */
  upCount (): number {
    let n = 0
    for (const k of this.nodes.values()) if (k.view.state === 'up') n++
    return n
  }

  /** Free slots over all up nodes: 0 means no queued job can start, whatever its shape. */
  totalFreeSlots (): number {
    let n = 0
    for (const k of this.nodes.values()) if (k.view.state === 'up' && !this.drained.has(k.view.peerId)) n += this.free(k).freeSlots
    return n
  }

  reserve (jobId: string, placement: readonly string[], memoryMB: number, hold?: string): void {
    if (hold !== undefined) this.jobHold.set(jobId, hold)
    const perPeer = new Map<string, number>()
    for (const p of placement) perPeer.set(p, (perPeer.get(p) ?? 0) + 1)
    for (const [p, n] of perPeer) {
      this.reservedSlots.set(p, (this.reservedSlots.get(p) ?? 0) + n)
      if (memoryMB > 0) {
        let m = this.reservedMemory.get(p)
        if (m === undefined) { m = new Map(); this.reservedMemory.set(p, m) }
        m.set(jobId, { mb: n * memoryMB, epoch: this.epoch })
      }
    }
    this.reservations.set(jobId, { perPeer, memoryMB, epoch: this.epoch })
  }

  /**
   * Frees a job's slots and memory. `ended`: its ranks are known to have exited (each reported
   * its exit), so what the node's last report counted as used by the job is free now, without
   * waiting for the next report; otherwise (a stop that may not have reached the node) the
   * report still bounds the node until a newer one arrives.
   */
  release (jobId: string, opts: { ended?: boolean } = {}): void {
    const r = this.reservations.get(jobId)
    if (r === undefined) return
    this.reservations.delete(jobId)
    this.jobHold.delete(jobId)
    for (const [p, n] of r.perPeer) {
      const k = this.nodes.get(p)
      // only what the report counted: a reservation newer than the report is not in it
      if (opts.ended === true && k !== undefined && r.epoch < k.epoch) {
        k.creditSlots += n
        k.creditMemoryMB += n * r.memoryMB
      }
      const left = (this.reservedSlots.get(p) ?? 0) - n
      if (left > 0) this.reservedSlots.set(p, left)
      else this.reservedSlots.delete(p)
      const m = this.reservedMemory.get(p)
      m?.delete(jobId)
      if (m?.size === 0) this.reservedMemory.delete(p)
    }
  }

  private free (k: Known, ownSlots = 0, ownMemoryMB = 0): { freeSlots: number, freeMemoryMB: number } {
    const v = k.view
    const slots = Math.min(v.freeSlots + k.creditSlots + ownSlots, v.totalSlots - (this.reservedSlots.get(v.peerId) ?? 0) + ownSlots)
    let mem = v.freeMemoryMB + k.creditMemoryMB + ownMemoryMB
    for (const h of this.reservedMemory.get(v.peerId)?.values() ?? []) {
      // a report newer than the reservation already counts the job's memory as used
      if (h.epoch >= k.epoch) mem -= h.mb
    }
    return { freeSlots: Math.max(0, slots), freeMemoryMB: Math.max(0, mem) }
  }
}

function sameReport (a: NodeView, b: NodeView): boolean {
  return a.state === b.state && a.group === b.group && a.totalSlots === b.totalSlots && a.freeSlots === b.freeSlots &&
    a.freeMemoryMB === b.freeMemoryMB && a.load === b.load && JSON.stringify(a.labels) === JSON.stringify(b.labels)
}

function labelsMatch (have: Record<string, string>, want: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(want)) if (have[k] !== v) return false
  return true
}
