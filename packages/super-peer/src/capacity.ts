import { CapacityError } from '@mvm/core'
import type { JobRequest } from '@mvm/broker'
import type { JobInfo } from '@mvm/soap'

/** A group member as far as capacity goes (structural: see MemberLike). */
export interface SlotHolder {
  peerId: string
  roles: string[]
  state: 'up' | 'down' | 'left'
  labels: Record<string, string>
  report: { totalSlots: number }
}

export interface Capacity { slots: number, peers: number, constrained: boolean }

/**
 * The slots the group could ever give a job: those of its live members that run ranks (role
 * `peer`; a super-peer without it schedules but runs none), within the job's placement labels
 * and nodes. Busy slots count: they free up; a job bigger than this never will.
 */
export function capacityFor (members: readonly SlotHolder[], placement: JobRequest['placement']): Capacity {
  const labels = Object.entries(placement?.labels ?? {})
  const only = placement?.nodes !== undefined && placement.nodes.length > 0 ? new Set(placement.nodes) : undefined
  const fit = members.filter((m) => m.state === 'up' && m.roles.includes('peer') &&
    labels.every(([k, v]) => m.labels[k] === v) && (only === undefined || only.has(m.peerId)))
  return { slots: fit.reduce((a, m) => a + m.report.totalSlots, 0), peers: fit.length, constrained: labels.length > 0 || only !== undefined }
}

/** Why a job of `size` ranks cannot run in the group, or undefined if it can. */
export function shortfall (size: number, cap: Capacity, group: string): string | undefined {
  if (size <= cap.slots) return undefined
  const peers = `${cap.peers} peer${cap.peers === 1 ? '' : 's'}`
  return `needs ${size} slots; group '${group}' has ${cap.slots} slot${cap.slots === 1 ? '' : 's'} on ${peers} that can run ranks${cap.constrained ? ' and match its placement' : ''}`
}

/**
 * At submit: a job (or any element of a sweep) that needs more slots than the group has in all
 * is refused, naming the element — unless `wait` (the policy's scheduling.waitForCapacity), when
 * it is accepted and shown queued with that reason (see {@link withHoldReason}).
 * @throws CapacityError (E_CAPACITY, not retryable: the same submission fails the same way)
 */
export function checkCapacity (req: JobRequest, members: readonly SlotHolder[], group: string, wait: boolean): void {
  if (wait) return
  const jobs: Array<{ label: string, size: number, placement: JobRequest['placement'] }> = req.children === undefined
    ? [{ label: '', size: req.size, placement: req.placement }]
    : req.children.map((c, i) => ({ label: `sweep element ${i}${c.name !== undefined ? ` (${c.name})` : ''}: `, size: c.size ?? req.size, placement: c.placement ?? req.placement }))
  for (const j of jobs) {
    const why = shortfall(j.size, capacityFor(members, j.placement), group)
    if (why !== undefined) {
      const job = req.name !== undefined && req.name !== '' ? `job '${req.name}'` : 'the job'
      throw new CapacityError(`${j.label}${job} ${why}, so it could never start (a policy with scheduling.waitForCapacity: true keeps such jobs queued until nodes join)`,
        { retryable: false, data: { needed: j.size, ...capacityFor(members, j.placement), group } })
    }
  }
}

/** A queued job the group is too small for says so, instead of waiting with no reason. */
export function withHoldReason (info: JobInfo, req: JobRequest | undefined, members: readonly SlotHolder[], group: string): JobInfo {
  if (info.state !== 'queued' || info.reason !== undefined) return info
  const why = shortfall(info.size, capacityFor(members, req?.placement), group)
  return why === undefined ? info : { ...info, reason: `waiting for capacity: ${why}` }
}
