import { BadRequestError } from '@mvm/core'
import type { ReduceOp } from './types.js'

type Bin = (a: any, b: any) => any

/** Any typed array: what element-wise reductions and segmenting accept. */
export type NumericArray =
  | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array

export function isNumericArray (v: unknown): v is NumericArray {
  return ArrayBuffer.isView(v) && !(v instanceof DataView)
}

// numbers and bigints combine directly; equal-length arrays and typed arrays element by element
// (vector reductions); a typed array's result has the same type as its inputs
const lift = (name: string, f: (a: number, b: number) => number): Bin => {
  const apply = (a: unknown, b: unknown): unknown => {
    if (typeof a === 'number' && typeof b === 'number') return f(a, b)
    if (typeof a === 'bigint' && typeof b === 'bigint') return f(a as never, b as never)
    if (isNumericArray(a) && isNumericArray(b) && a.constructor === b.constructor && a.length === b.length) return typed(a, b)
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.map((x, i) => apply(x, b[i]))
    throw new BadRequestError(`reduce "${name}": cannot combine ${describe(a)} with ${describe(b)}`)
  }
  const typed = (a: NumericArray, b: NumericArray): NumericArray => {
    const out = new (a.constructor as new (n: number) => NumericArray)(a.length)
    const x = a as unknown as number[]
    const y = b as unknown as number[]
    const o = out as unknown as number[]
    for (let i = 0; i < x.length; i++) o[i] = f(x[i]!, y[i]!)
    return out
  }
  return apply
}

const describe = (v: unknown): string => {
  if (Array.isArray(v)) return `an array of ${v.length}`
  if (isNumericArray(v)) return `a ${v.constructor.name} of ${v.length}`
  return typeof v
}

const builtins: Record<string, Bin> = {
  sum: lift('sum', (a, b) => a + b),
  prod: lift('prod', (a, b) => a * b),
  min: lift('min', (a, b) => (b < a ? b : a)),
  max: lift('max', (a, b) => (b > a ? b : a))
}

export function resolveOp (op: ReduceOp): Bin {
  if (typeof op === 'function') return op
  const f = builtins[op]
  if (f === undefined) throw new BadRequestError(`unknown reduce op "${String(op)}"; use sum, min, max, prod or a function (a, b) => c`)
  return f
}

/**
 * Built-ins are associative and commutative (IEEE addition and multiplication are commutative
 * bit for bit), so any fixed combination tree gives one answer on every rank; a function may be
 * neither and is folded strictly in rank order.
 */
export function isBuiltinOp (op: ReduceOp): boolean {
  return typeof op === 'string' && builtins[op] !== undefined
}
