import { BadRequestError, CapacityError, InvalidStateError, NotMalleableError, TimeoutError, AbortError } from '@mvm/core'
import type { Candidate, Job, JobRequest } from './types.js'

/** A malleable job's bounds as the super-peer stored them with the request (`request.malleable`). */
export interface Bounds { min: number, max: number, auto: boolean }

/** The cut a resized run resumes from. */
export interface CutKey { attempt: number, cut: number }

export function boundsOf (job: Job): Bounds | undefined {
  const m = job.request.malleable as Partial<Bounds> | undefined
  if (typeof m !== 'object' || m === null || !Number.isInteger(m.min) || !Number.isInteger(m.max)) return undefined
  return { min: m.min!, max: m.max!, auto: m.auto !== false }
}

/** Refuses a resize the job cannot take: not malleable (E_NOT_MALLEABLE), a size outside its bounds (E_BAD_REQUEST). */
export function checkResize (job: Job, n: unknown): Bounds {
  const where = `ResizeJob(${job.id}, ${String(n)})`
  if (job.childIds !== undefined) throw new NotMalleableError(`${where}: ${job.id} is an array job; resize one of its elements`, { data: { jobId: job.id } })
  const b = boundsOf(job)
  if (b === undefined) throw new NotMalleableError(`${where}: job ${job.id} is not malleable (its profile says processes: ${job.size}, not processes: { min, max })`, { data: { jobId: job.id } })
  if (!Number.isInteger(n) || (n as number) < b.min || (n as number) > b.max) {
    throw new BadRequestError(`${where}: size must be an integer from ${b.min} to ${b.max} (the profile's processes: { min: ${b.min}, max: ${b.max} })`, { data: { field: 'size', jobId: job.id, min: b.min, max: b.max } })
  }
  return b
}

/** Resizes the job would count as restarts: a resize starts a new attempt but is not a failure. */
export function restartsUsed (job: Job): number {
  const r = job.request.resizes
  return Math.max(0, job.restarts - (typeof r === 'number' && Number.isInteger(r) ? r : 0))
}

/** The request of the job at `n` ranks, resuming from `from`. */
export function resizedRequest (job: Job, n: number, from: CutKey): JobRequest {
  const r = job.request.resizes
  return { ...job.request, size: n, resizedFrom: { size: job.size, ...from }, resizes: (typeof r === 'number' ? r : 0) + 1 }
}

/** The request of a resized job run again from the start (`requeue`): its first size, no resize behind it. */
export function firstRequest (job: Job, b: Bounds): JobRequest {
  const { resizedFrom: _from, resizes: _n, ...rest } = job.request
  return { ...rest, size: b.min }
}

/** The cut a resized job resumes from until its new size has a complete cut of its own. */
export function resizedFromOf (job: Job): CutKey | undefined {
  const f = job.request.resizedFrom as Partial<CutKey> | undefined
  return f !== undefined && Number.isInteger(f.attempt) && Number.isInteger(f.cut) ? { attempt: f.attempt!, cut: f.cut! } : undefined
}

/**
 * The extra ranks a grow to `n` adds (the job's own ranks stay where they are): one at a time on
 * the candidate with the most room left, so they spread. Null when the free slots do not suffice.
 */
export function extraRanks (job: Job, n: number, candidates: readonly Candidate[]): string[] | null {
  const want = n - job.size
  const left = new Map(candidates.map((c) => [c.peerId, c.capacity]))
  const out: string[] = []
  for (let i = 0; i < want; i++) {
    let best: string | undefined
    for (const [p, c] of left) if (c > 0 && (best === undefined || c > left.get(best)!)) best = p
    if (best === undefined) return null
    out.push(best)
    left.set(best, left.get(best)! - 1)
  }
  return out
}

export function noRoom (job: Job, n: number, free: number): CapacityError {
  return new CapacityError(`ResizeJob(${job.id}, ${n}): growing from ${job.size} to ${n} ranks needs ${n - job.size} free slots where the job may run; ${free} are free`, { data: { jobId: job.id, size: job.size, want: n, free } })
}

export function notRunning (job: Job, n: number): InvalidStateError {
  return new InvalidStateError(`ResizeJob(${job.id}, ${n}): the job is ${job.state}; only a running job is resized`, { data: { jobId: job.id, state: job.state } })
}

/** Waits (polling the store) until `read` gives a cut other than `before`; TimeoutError after `timeoutMs`. */
export async function waitForCut (read: () => CutKey | undefined, before: CutKey | undefined, o: { signal?: AbortSignal, timeoutMs: number, what: string, alive?: () => boolean }): Promise<CutKey> {
  const deadline = Date.now() + o.timeoutMs
  for (;;) {
    const k = read()
    if (k !== undefined && (before === undefined || k.attempt !== before.attempt || k.cut > before.cut)) return k
    if (o.alive?.() === false) throw new InvalidStateError(`${o.what}: the job stopped running before the cut (it ended, failed or lost a node)`)
    if (o.signal?.aborted === true) throw new AbortError(`${o.what}: aborted while waiting for a cut`)
    if (Date.now() > deadline) throw new TimeoutError(`${o.what}: no coordinated cut within ${Math.round(o.timeoutMs / 1000)} s; does the program call ctx.checkpoint() in its loop?`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Calls `ask` until it resolves, every 200 ms; its last error after `timeoutMs`. */
export async function askUntil (ask: () => Promise<void>, o: { signal?: AbortSignal, timeoutMs: number, what: string }): Promise<void> {
  const deadline = Date.now() + o.timeoutMs
  for (;;) {
    try { await ask(); return } catch (err) {
      if (Date.now() > deadline || o.signal?.aborted === true) throw err
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/**
 * The automatic policy's next step, if any. A queued job free to run that does not fit shrinks the
 * lowest-priority malleable job of lower priority that can give back enough slots (down to its
 * min); with nothing queued, the malleable job of highest priority grows into the free slots where
 * it may run (`room`), up to its max. `malleable`: running auto-resized jobs past their cooldown.
 */
export function autoDecision (malleable: readonly Job[], waiting: readonly Job[], free: number, room: (job: Job) => number): { job: Job, size: number, why: string } | undefined {
  const head = [...waiting].sort((a, b) => b.priority - a.priority || a.seq - b.seq)[0]
  if (head !== undefined) {
    const need = head.size - free
    if (need <= 0) return undefined
    const victim = malleable.filter((j) => j.priority < head.priority && j.size - boundsOf(j)!.min >= need).sort((a, b) => a.priority - b.priority || b.seq - a.seq)[0]
    return victim === undefined ? undefined : { job: victim, size: victim.size - need, why: `job ${head.id} of priority ${head.priority} waits for ${need} slots` }
  }
  if (free <= 0) return undefined
  const grow = malleable.filter((j) => j.size < boundsOf(j)!.max).sort((a, b) => b.priority - a.priority || a.seq - b.seq)[0]
  if (grow === undefined) return undefined
  const r = room(grow)
  const n = Math.min(boundsOf(grow)!.max, grow.size + r)
  return n > grow.size ? { job: grow, size: n, why: `${r} free slots` } : undefined
}
