import type { LoadedProfile } from './types.js'

/**
 * One concrete profile per value set of `spec.array`: explicit `values`, or the cartesian
 * product of `matrix` (keys in file order, last key varying fastest). Each value set is laid
 * over `spec.params`; the children carry no `array` and get `metadata.name` suffixed `-<index>`.
 * A profile without `array` gives itself.
 */
export function expandArray (profile: LoadedProfile): LoadedProfile[] {
  const a = profile.spec.array
  if (a === undefined) return [profile]
  const sets = 'values' in a ? a.values : product(a.matrix)
  return sets.map((set, i) => {
    const { array: _array, ...spec } = profile.spec
    return {
      ...profile,
      metadata: { ...profile.metadata, name: `${profile.metadata.name}-${i}` },
      spec: { ...spec, params: { ...profile.spec.params, ...set } }
    }
  })
}

function product (matrix: Record<string, unknown[]>): Array<Record<string, unknown>> {
  let out: Array<Record<string, unknown>> = [{}]
  for (const [k, vs] of Object.entries(matrix)) {
    out = out.flatMap((base) => vs.map((v) => ({ ...base, [k]: v })))
  }
  return out
}
