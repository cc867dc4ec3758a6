import { BadRequestError, MvmError } from '@mvm/core'
import type { Job } from './types.js'

/**
 * When a dependency is met, as Slurm's `--dependency`: `afterok` once the job succeeded,
 * `afternotok` once it failed or was cancelled, `afterany` once it ended in any state.
 */
export const DEPENDENCY_TYPES = ['afterok', 'afterany', 'afternotok'] as const
export type DependencyType = (typeof DEPENDENCY_TYPES)[number]

/** A dependency as the broker keeps it: always by full job id. */
export interface Dependency { jobId: string, type: DependencyType }

/** What the dependencies of a job say now. */
export type DependencyStatus =
  | { kind: 'met' }
  | { kind: 'wait', reason: string }
  /** One dependency ended in a state that can never satisfy it: the job is cancelled with the reason. */
  | { kind: 'never', reason: string }

const WANTS: Record<DependencyType, string> = { afterok: 'succeed', afternotok: 'fail', afterany: 'end' }

function isDependencyType (v: unknown): v is DependencyType {
  return typeof v === 'string' && (DEPENDENCY_TYPES as readonly string[]).includes(v)
}

function bad (field: string, reason: string, got: unknown): never {
  throw new BadRequestError(`${field}: ${reason} (got ${JSON.stringify(got) ?? String(got)})`, { data: { field, reason } })
}

/**
 * The written forms of `dependsOn`, one list: `{ job, type }` (or `{ jobId, type }`), and the
 * short strings `afterok:j-12`, `afterok:j-12:j-13`, `j-12` (afterok), comma-separated in one
 * string as `--depends-on` takes them. `job` is a job id, a unique prefix of one, or a job name
 * (the latest job of that name); `resolve` turns each into a full id or throws.
 */
export function normaliseDependsOn (raw: unknown, field: string, resolve: (ref: string) => string): Dependency[] {
  if (raw === undefined || raw === null) return []
  const items = Array.isArray(raw) ? raw : [raw]
  const out: Dependency[] = []
  const add = (ref: unknown, type: unknown, at: string): void => {
    if (!isDependencyType(type)) bad(`${at}.type`, `must be one of ${DEPENDENCY_TYPES.join(', ')}`, type)
    if (typeof ref !== 'string' || ref.trim() === '') bad(`${at}.job`, 'must be a job id or job name', ref)
    let jobId: string
    try {
      jobId = resolve(ref.trim())
    } catch (err) {
      const why = err instanceof MvmError ? err.message : String(err)
      throw new BadRequestError(`${at}.job: no job ${JSON.stringify(ref)} to depend on (${why})`, { data: { field: `${at}.job`, reason: 'unknown job' }, cause: err })
    }
    if (!out.some((d) => d.jobId === jobId && d.type === type)) out.push({ jobId, type })
  }
  items.forEach((item, i) => {
    const at = `${field}[${i}]`
    if (typeof item === 'string') {
      for (const part of item.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
        const bits = part.split(':')
        if (bits.length === 1) { add(bits[0], 'afterok', at); continue }
        const [type, ...refs] = bits
        if (!isDependencyType(type)) bad(at, `"${part}": the form is TYPE:JOB[:JOB…] with TYPE one of ${DEPENDENCY_TYPES.join(', ')}`, item)
        if (refs.length === 0 || refs.some((r) => r === '')) bad(at, `"${part}": a job id or name must follow "${type}:"`, item)
        for (const r of refs) add(r, type, at)
      }
      return
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) bad(at, 'must be { job, type } or a string like afterok:j-12', item)
    const o = item as Record<string, unknown>
    add(o.job ?? o.jobId, o.type ?? 'afterok', at)
  })
  return out
}

/** Whether `deps` let a job run now; `get` reads a job (undefined when it is gone). */
export function dependencyStatus (deps: readonly Dependency[], get: (id: string) => Job | undefined): DependencyStatus {
  const waiting: string[] = []
  for (const d of deps) {
    const dep = get(d.jobId)
    if (dep === undefined) return { kind: 'never', reason: `dependency ${d.jobId} no longer exists (${d.type})` }
    const s = dep.state
    const ended = s === 'succeeded' || s === 'failed' || s === 'cancelled'
    if (!ended) { waiting.push(`job ${d.jobId} (${s}) to ${WANTS[d.type]}`); continue }
    if (d.type === 'afterok' && s !== 'succeeded') return { kind: 'never', reason: `dependency ${d.jobId} ${s} (afterok)` }
    if (d.type === 'afternotok' && s === 'succeeded') return { kind: 'never', reason: `dependency ${d.jobId} succeeded (afternotok)` }
  }
  return waiting.length === 0 ? { kind: 'met' } : { kind: 'wait', reason: `waiting on ${waiting.join(', ')}` }
}

/** The normalised dependencies kept in a stored request (empty when it has none). */
export function dependenciesOf (job: Job): Dependency[] {
  const d = job.request.dependsOn
  return Array.isArray(d) ? d as Dependency[] : []
}
