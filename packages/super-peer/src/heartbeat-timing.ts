import type { EffectivePolicy } from '@mvm/model'

/** The node's heartbeat machinery as the super-peer role drives it (structural: see @mvm/node MvmNode.heartbeats). */
export interface HeartbeatControl {
  timing: () => { heartbeatMs: number, missedHeartbeats: number } | undefined
  retime: (next: { heartbeatMs?: number, missedHeartbeats?: number }) => unknown
  follow: (superPeerId: string, heartbeatMs: number) => boolean
}

type Monitoring = EffectivePolicy['spec']['monitoring']

/** A policy push's field saying at what interval the group's members beat (ms). */
export const PUSH_HEARTBEAT_FIELD = 'heartbeatMs'

/**
 * Live changes of the policy's `monitoring.intervalSec` and `missedHeartbeats`: a change retimes
 * this super-peer's failure detection first (it keeps the wider bound while members switch),
 * then every push says the interval to beat at, so members (peers and child super-peers) follow.
 * Only a change counts: the timing a node started with (its flags may override its policy) stays
 * until a policy changes one of those fields.
 */
export class HeartbeatTimingFollower {
  private seen: Pick<Monitoring, 'intervalSec' | 'missedHeartbeats'> | undefined

  constructor (private readonly hb: HeartbeatControl | undefined) {}

  /** The policy the node started with: its timing is already in force. */
  baseline (m: Monitoring): void { this.seen = { intervalSec: m.intervalSec, missedHeartbeats: m.missedHeartbeats } }

  /** After a policy change, before its push goes out: a changed field retimes the group. */
  onPolicy (m: Monitoring): void {
    const seen = this.seen
    if (seen === undefined) { this.baseline(m); return }
    const next: { heartbeatMs?: number, missedHeartbeats?: number } = {}
    if (m.intervalSec !== seen.intervalSec) next.heartbeatMs = Math.max(10, Math.round(m.intervalSec * 1000))
    if (m.missedHeartbeats !== seen.missedHeartbeats) next.missedHeartbeats = m.missedHeartbeats
    this.baseline(m)
    if (Object.keys(next).length > 0) this.hb?.retime(next)
  }

  /** The push (JSON) with the interval this group's members beat at. */
  annotate (pushJson: string): string {
    const t = this.hb?.timing()
    if (t === undefined) return pushJson
    try {
      const push = JSON.parse(pushJson) as Record<string, unknown>
      return JSON.stringify({ ...push, [PUSH_HEARTBEAT_FIELD]: t.heartbeatMs })
    } catch { return pushJson }
  }

  /** A push from the parent group's super-peer: this node's link to it beats at the interval it says. */
  fromParent (push: unknown, from: string): void {
    const ms = (push as Record<string, unknown> | null)?.[PUSH_HEARTBEAT_FIELD]
    if (typeof ms === 'number' && Number.isFinite(ms)) this.hb?.follow(from, ms)
  }
}
