import type { NodeView } from './types.js'

/**
 * A reservation: slots kept for the jobs that name it during a window. `nodes` holds those
 * nodes whole (by peer ID or `name` label); `slots` holds that many slots on the up nodes that
 * match `labels` (and `nodes`, when both are given), taken node by node in peer ID order.
 */
export interface SlotHold {
  name: string
  slots?: number
  nodes?: string[]
  labels?: Record<string, string>
  /** Window in ms since the epoch; open-ended when absent. */
  fromMs?: number
  toMs?: number
}

export const holdActive = (h: SlotHold, now: number): boolean => (h.fromMs === undefined || h.fromMs <= now) && (h.toMs === undefined || now < h.toMs)

/** The slots each active reservation holds now, per peer. */
export function heldSlots (holds: readonly SlotHold[], views: readonly NodeView[], now: number): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>()
  const up = views.filter((v) => v.state === 'up').sort((a, b) => a.peerId < b.peerId ? -1 : 1)
  for (const h of holds) {
    if (!holdActive(h, now)) continue
    const named = (v: NodeView): boolean => h.nodes === undefined || h.nodes.some((n) => n === v.peerId || n === v.labels.name)
    const labelled = (v: NodeView): boolean => Object.entries(h.labels ?? {}).every(([k, val]) => v.labels[k] === val)
    const per = new Map<string, number>()
    let left = h.slots ?? Infinity
    for (const v of up) {
      if (left <= 0) break
      if (!named(v) || !labelled(v)) continue
      const n = Math.min(v.totalSlots, left)
      if (n > 0) per.set(v.peerId, n)
      left -= n
    }
    out.set(h.name, per)
  }
  return out
}
