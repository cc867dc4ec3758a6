import type { Community, SimNode } from './community.js'
import { spread, type Spread } from './stats.js'

export interface ChurnReport {
  left: number
  crashed: number
  joined: number
  /** Crash to the super-peer marking the peer down, ms. */
  detectionMs: Spread
  /** What the policy allows: missedHeartbeats × heartbeat interval, plus half an interval of sweep. */
  detectionBoundMs: number
  /** Crashes not seen by the super-peer when churn stopped. */
  undetected: number
  /** Most members any super-peer had up at once during the churn. */
  maxGroupSize: number
}

/**
 * Replaces `percentPerMin` % of the peers per minute, in turn: one leaves (graceful Leave),
 * one crashes (connections reset, no Leave), one new peer joins. Returns a function that stops
 * the churn and reports what happened, including each crash's failure-detection time.
 */
export function churn (c: Community, o: { percentPerMin: number, log?: (l: string) => void, seed?: number }): () => Promise<ChurnReport> {
  const perMin = Math.max(1, Math.round(c.peers.length * o.percentPerMin / 100))
  const everyMs = 60_000 / perMin
  const report = { left: 0, crashed: 0, joined: 0 }
  const crashedAt = new Map<string, number>()
  const detections: number[] = []
  let maxGroupSize = 0
  let seed = o.seed ?? 1
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n }
  const offs = c.superPeers.map((sp) => sp.host.node.onPeerState((e) => {
    const t = crashedAt.get(e.peerId)
    if (t !== undefined && e.state === 'down') { detections.push(Date.now() - t); crashedAt.delete(e.peerId) }
  }))
  const pending = new Set<Promise<unknown>>()
  const track = (p: Promise<unknown>): void => { pending.add(p); void p.finally(() => pending.delete(p)).catch(() => {}) }
  let turn = 0
  const tick = (): void => {
    maxGroupSize = Math.max(maxGroupSize, ...c.upByGroup())
    const kind = turn++ % 3
    if (kind === 2) {
      report.joined++
      track(c.addPeers(1))
      return
    }
    const victims = c.peers.filter((p) => p.host.node.isStarted())
    if (victims.length === 0) return
    const p: SimNode = victims[rand(victims.length)]!
    if (kind === 0) {
      report.left++
      track(c.removePeer(p))
    } else {
      report.crashed++
      const id = p.host.node.peerId
      crashedAt.set(id, Date.now())
      track((async () => { await p.host.node.crash(); await c.removePeer(p) })())
    }
  }
  const timer = setInterval(tick, everyMs)
  o.log?.(`churn: one peer leaves, crashes or joins every ${Math.round(everyMs)} ms`)
  return async () => {
    clearInterval(timer)
    await Promise.allSettled([...pending])
    for (const off of offs) off()
    const hb = c.init.heartbeatMs
    return {
      ...report,
      detectionMs: spread(detections),
      detectionBoundMs: c.init.missedHeartbeats * hb + Math.ceil(hb / 2),
      undetected: crashedAt.size,
      maxGroupSize
    }
  }
}
