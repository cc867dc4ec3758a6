import { BadRequestError } from '@mvm/core'
import type { ReduceOp } from './types.js'

type Bin = (a: any, b: any) => any

// numbers combine directly; equal-length arrays combine element by element (vector reductions)
const lift = (name: string, f: (a: number, b: number) => number): Bin => {
  const apply = (a: unknown, b: unknown): unknown => {
    if (typeof a === 'number' && typeof b === 'number') return f(a, b)
    if (typeof a === 'bigint' && typeof b === 'bigint') return f(a as never, b as never)
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.map((x, i) => apply(x, b[i]))
    throw new BadRequestError(`reduce "${name}": cannot combine ${describe(a)} with ${describe(b)}`)
  }
  return apply
}

const describe = (v: unknown): string => Array.isArray(v) ? `an array of ${v.length}` : typeof v

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
