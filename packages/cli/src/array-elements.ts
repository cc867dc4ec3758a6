import { expandArray, type LoadedProfile } from '@mvm/model'
import type { ArrayElement } from './sweep.js'

// apart from sweep.ts: `mvm jobs` and `mvm result` draw sweep tables without loading @mvm/model

/** The elements of an array profile, in the order the broker creates their jobs (expandArray's). */
export function arrayElements (profile: LoadedProfile): ArrayElement[] {
  const a = profile.spec.array
  if (a === undefined) return []
  const keys = 'values' in a ? [...new Set(a.values.flatMap((v) => Object.keys(v)))] : Object.keys(a.matrix)
  return expandArray(profile).map((child) => {
    const params = child.spec.params ?? {}
    return { values: keys.map((k): [string, unknown] => [k, (params as Record<string, unknown>)[k]]) }
  })
}
