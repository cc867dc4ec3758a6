import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { profileRequest } from '@mvm/cli'
import type { SubmitJobRequest } from '@mvm/soap'

/** A ready-to-send request and, for samples, the answer the profile promises (`spec.expect`). */
export interface Workload { name: string, request: SubmitJobRequest, expect?: { result?: unknown, tolerance?: number } }

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
export const SAMPLES_DIR = join(ROOT, 'profiles')
export const HOSTILE_PROFILE = fileURLToPath(new URL('../fixtures/hostile/hostile.yaml', import.meta.url))

export const HOSTILE_MODES = ['kill-ppid', 'kill-group', 'kill-all', 'hog', 'spin', 'throw'] as const
export type HostileMode = typeof HOSTILE_MODES[number]

/**
 * The samples that state their answer. A sample without `spec.expect` (primes-sweep, an
 * array of six heavy runs) cannot be scored correct or wrong, so it is left out.
 */
export async function loadSamples (dir = SAMPLES_DIR): Promise<Workload[]> {
  const out: Workload[] = []
  for (const f of (await readdir(dir)).filter((x) => x.endsWith('.yaml')).sort()) {
    const { request, profile } = await profileRequest(join(dir, f), { owner: 'chaos' })
    const expect = (profile.spec as { expect?: Workload['expect'] }).expect
    if (expect !== undefined) out.push({ name: profile.metadata.name, request, expect })
  }
  return out
}

export async function loadHostile (): Promise<Map<HostileMode, Workload>> {
  const out = new Map<HostileMode, Workload>()
  for (const mode of HOSTILE_MODES) {
    const { request } = await profileRequest(HOSTILE_PROFILE, { owner: 'chaos-hostile', params: { mode } })
    out.set(mode, { name: `hostile-${mode}`, request })
  }
  return out
}

/** Does the result meet the expectation? The rule of `mvm lab`: numbers within tolerance, objects by the expected keys. */
export function meetsExpectation (resultJson: string | undefined, expect: Workload['expect']): boolean {
  if (expect === undefined) return true
  let actual: unknown
  try { actual = resultJson === undefined || resultJson === '' ? undefined : JSON.parse(resultJson) } catch { return false }
  return close(actual, expect.result, expect.tolerance ?? 0)
}

function close (a: unknown, b: unknown, tol: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= tol
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => close(x, b[i], tol))
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    return Object.keys(b).every((k) => k in a && close((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], tol))
  }
  return a === b
}
