import { BadRequestError } from '@mvm/core'
import type { EffectivePolicySpec } from '@mvm/model'
import type { JobRequest } from '@mvm/broker'
import type { InstanceTemplate } from '@mvm/wire'

/**
 * What the policy in force does to a new job: the queue and sandbox settings its profile did not
 * write come from the policy (`queues.type|capacity|encoding`, `sandbox.defaults`), and the
 * policy's limits (`queues.maxCapacity`, the `queues.encodings` allow-list) refuse a job that
 * asks for more, naming the profile and the setting. Applied at each submit, so a policy
 * change counts for the next job.
 * @throws BadRequestError when the job breaks a limit
 */
export function applyJobPolicy (request: JobRequest, written: ReadonlySet<string>, spec: EffectivePolicySpec, profile: string): JobRequest {
  checkReservation(request, spec, profile)
  const one = (r: JobRequest): JobRequest => {
    const inst = r.instance as InstanceTemplate | undefined
    if (inst === undefined) return r
    const q = spec.queues
    const d = spec.sandbox.defaults
    const queue = {
      type: written.has('queue.type') ? inst.queue.type : q.type,
      capacity: written.has('queue.capacity') ? inst.queue.capacity : q.capacity,
      encoding: written.has('queue.encoding') ? inst.queue.encoding : q.encoding
    }
    if (q.maxCapacity !== undefined && queue.capacity > q.maxCapacity) {
      throw new BadRequestError(`${profile}: spec.queue.capacity ${queue.capacity} is over the policy's queues.maxCapacity ${q.maxCapacity}`, { data: { field: 'spec.queue.capacity', limit: q.maxCapacity } })
    }
    if (q.encodings !== undefined && !q.encodings.includes(queue.encoding)) {
      throw new BadRequestError(`${profile}: spec.queue.encoding ${queue.encoding} is not allowed by the policy (queues.encodings: ${q.encodings.join(', ')})`, { data: { field: 'spec.queue.encoding', allowed: q.encodings } })
    }
    const memoryMB = written.has('resources.memoryMB') ? inst.resources.memoryMB : d.memoryMB
    const wallTimeSec = written.has('resources.wallTimeSec') ? inst.resources.wallTimeSec : d.wallTimeSec
    const cpu = written.has('resources.cpu') ? r.resources?.cpu ?? d.cpu : d.cpu
    const out: JobRequest = {
      ...r,
      resources: { ...r.resources, memoryMB, cpu },
      instance: { ...inst, queue, resources: { ...inst.resources, memoryMB, wallTimeSec } }
    }
    if (r.children !== undefined) out.children = r.children.map((c) => one(c as JobRequest))
    return out
  }
  return one(request)
}

/** A job naming a reservation: it must exist, not be over, and admit the job's owner. */
function checkReservation (r: JobRequest, spec: EffectivePolicySpec, profile: string): void {
  const name = r.reservation
  if (typeof name !== 'string') return
  const res = spec.scheduling.reservations.find((x) => x.name === name)
  const known = spec.scheduling.reservations.map((x) => x.name)
  if (res === undefined) throw new BadRequestError(`${profile}: spec.reservation ${name}: no such reservation in the policy (${known.length === 0 ? 'none' : known.join(', ')})`)
  if (res.to !== undefined && Date.parse(res.to) <= Date.now()) throw new BadRequestError(`${profile}: spec.reservation ${name} ended at ${res.to}`)
  const owner = r.owner ?? 'anonymous'
  if (res.subjects !== undefined && !res.subjects.includes(owner) && !res.subjects.includes('*')) {
    throw new BadRequestError(`${profile}: spec.reservation ${name} is for ${res.subjects.join(', ')}, not ${owner}`)
  }
}
