import { BadRequestError } from '@mvm/core'
import type { Transport } from './types.js'

/** Key of the marker value a rank sends on every port at each checkpoint point. */
const MARK = '$mvmMark'
/** Key that tells a coordinated cut's envelope from a plain checkpoint state. */
export const CUT_KEY = '$mvmCut'

/** What a rank ships for one cut: its state and the messages in flight to it, by port. */
export interface CutEnvelope {
  [CUT_KEY]: number
  point: number
  state: unknown
  channels: Record<string, unknown[]>
}

interface Marker { [MARK]: number, target: number }

export function isCutEnvelope (v: unknown): v is CutEnvelope {
  return typeof v === 'object' && v !== null && Number.isSafeInteger((v as Record<string, unknown>)[CUT_KEY])
}

const isMarker = (v: unknown): v is Marker => typeof v === 'object' && v !== null && MARK in v

export interface CutInit {
  rank: number
  size: number
  ports: readonly string[]
  /** Rank 0 starts a cut when this long has passed since the last one. */
  intervalSec: number
  /** A cut envelope to resume from (ctx.restored on a restart). */
  restored?: CutEnvelope
  signal: AbortSignal
}

/**
 * Coordinated checkpoints (a blocking Chandy-Lamport cut over the ports). Each `checkpoint()`
 * call is a point every rank passes in step: the rank sends a marker on every port and reads
 * each port up to its neighbour's marker, keeping what it read for the program's later recv.
 * Since no rank reads past a marker, no message sent after a point is consumed before it, and
 * what was read up to the markers (plus what was kept unread) is exactly the channel state.
 *
 * Which point becomes a cut must be the same on every rank: rank 0 names a point `size - 1`
 * ahead and the markers carry it, one hop per point, so every rank of a connected topology
 * knows it by then. A cut ships the program's state and the channel state in one envelope.
 */
export class CoordinatedCuts {
  private point = 0
  private cut = 0
  private target = 0
  private lastCutAt = Date.now()
  private rr = 0
  private requested = false
  private readonly kept = new Map<string, unknown[]>()

  constructor (private readonly init: CutInit, private readonly t: Transport) {
    for (const p of init.ports) this.kept.set(p, [])
    t.cutRequests?.(() => { this.request() })
    const r = init.restored
    if (r !== undefined) {
      this.point = r.point
      this.cut = r[CUT_KEY]
      this.target = r.point
      for (const [p, values] of Object.entries(r.channels)) {
        const q = this.kept.get(p)
        if (q === undefined) throw new BadRequestError(`restored cut ${this.cut}: rank ${init.rank} has no port "${p}"`)
        q.push(...values)
      }
    }
  }

  /** Asks for a cut at the next point (rank 0 only; other ranks learn it from the markers). */
  request (): void { this.requested = true }

  /** Wraps the port side of a transport so kept messages are delivered first and markers never reach the program. */
  transport (): Transport {
    const t = this.t
    const unexpected = (port: string): never => {
      throw new BadRequestError(`coordinated checkpoint: rank ${this.init.rank} read past its neighbour's checkpoint on port "${port}"; every rank must call ctx.checkpoint() the same number of times, before it needs messages sent after it`)
    }
    return {
      ...t,
      recvPort: async (port, signal) => {
        const q = this.kept.get(port)
        if (q !== undefined && q.length > 0) return q.shift()
        const v = await t.recvPort(port, signal)
        return isMarker(v) ? unexpected(port) : v
      },
      recvAny: async (signal) => {
        const ports = this.init.ports
        for (let i = 0; i < ports.length; i++) {
          const port = ports[(this.rr + i) % ports.length]!
          const q = this.kept.get(port)!
          if (q.length > 0) { this.rr = (this.rr + i + 1) % ports.length; return { port, value: q.shift() } }
        }
        const got = await t.recvAny(signal)
        return isMarker(got.value) ? unexpected(got.port) : got
      },
      checkpoint: async (state) => { await this.checkpoint(state) }
    }
  }

  async checkpoint (state: unknown): Promise<void> {
    this.point++
    const { rank, size, ports, intervalSec, signal } = this.init
    if (rank === 0 && this.target < this.point && (this.requested || Date.now() - this.lastCutAt >= intervalSec * 1000)) {
      this.target = this.point + Math.max(0, size - 1)
      this.requested = false
    }
    const mark: Marker = { [MARK]: this.point, target: this.target }
    await Promise.all([
      ...ports.map(async (p) => { await this.t.sendPort(p, mark, signal) }),
      ...ports.map(async (p) => { await this.drain(p) })
    ])
    if (this.point !== this.target) return
    this.cut++
    this.lastCutAt = Date.now()
    const channels: Record<string, unknown[]> = {}
    for (const [p, q] of this.kept) if (q.length > 0) channels[p] = [...q]
    const env: CutEnvelope = { [CUT_KEY]: this.cut, point: this.point, state, channels }
    await this.t.checkpoint(env)
  }

  private async drain (port: string): Promise<void> {
    const q = this.kept.get(port)!
    for (;;) {
      const v = await this.t.recvPort(port, this.init.signal)
      if (!isMarker(v)) { q.push(v); continue }
      if (v[MARK] !== this.point) {
        throw new BadRequestError(`coordinated checkpoint: rank ${this.init.rank} is at checkpoint ${this.point} but its neighbour on port "${port}" is at ${v[MARK]}; every rank must call ctx.checkpoint() the same number of times`)
      }
      if (v.target > this.target) this.target = v.target
      return
    }
  }
}
