import { isNumericArray, type NumericArray } from './ops.js'

/** A value a large reduction may cut into element ranges: an array or a typed array. */
export type Segmentable = unknown[] | NumericArray

export function segmentLength (v: unknown): number | undefined {
  if (Array.isArray(v) || isNumericArray(v)) return v.length
  return undefined
}

/** A copy, never a view: a view would drag its whole buffer through a transport that clones. */
export function cut (v: Segmentable, lo: number, hi: number): Segmentable {
  return v.slice(lo, hi)
}

/** `a` then `b`, as the type of `a`. */
export function join (a: Segmentable, b: Segmentable): Segmentable {
  if (Array.isArray(a)) return a.concat(b as unknown[])
  const out = new (a.constructor as new (n: number) => NumericArray)(a.length + b.length)
  out.set(a as never)
  out.set(b as never, a.length)
  return out
}

/**
 * A received value in the shape of the local one it will be combined with. Transports that
 * carry typed arrays as bytes hand them back as they were; a JSON one turns them into plain
 * objects (`{"0":1.5,…}`) or arrays, which are rebuilt here. Anything else passes unchanged.
 */
export function conform (received: unknown, like: unknown): unknown {
  if (!isNumericArray(like) || received === null || typeof received !== 'object' || received instanceof like.constructor) return received
  const values = Array.isArray(received) ? received : Object.values(received as Record<string, unknown>)
  const C = like.constructor as unknown as { from: (xs: unknown[]) => NumericArray }
  return C.from(values)
}
