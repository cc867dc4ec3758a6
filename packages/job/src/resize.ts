import { BadRequestError } from '@mvm/core'
import { CUT_KEY, type CutEnvelope } from './cut.js'

/** Key of the envelope a rank of a resized job starts from (built by the super-peer from a cut). */
export const RESIZE_KEY = '$mvmResize'

/** One old rank's share of the cut a resize started from. */
export interface ResizePart { state: unknown, channels: Record<string, unknown[]> }

/** What a rank restarted at a new size is given (`ctx.resized`): the old layout's states, in old rank order. */
export interface ResizeInfo {
  /** The size the job had at the cut. */
  fromSize: number
  /** The size it has now (= ctx.size). */
  toSize: number
  /** Each old rank's checkpoint state at the cut (index = old rank). */
  states: unknown[]
  /**
   * Messages that were in flight to each old rank at the cut, by port: the old ports are gone,
   * so they are the program's to place. Empty when the resize point is where the ports are
   * drained (the top of a step that reads everything its neighbours sent).
   */
  channels: Array<Record<string, unknown[]>>
}

/** The envelope: `{ $mvmResize: { cut, point, parts } }` (the same for every new rank). */
export interface ResizeEnvelope {
  [RESIZE_KEY]: { cut: number, point: number, parts: ResizePart[] }
}

export function isResizeEnvelope (v: unknown): v is ResizeEnvelope {
  if (typeof v !== 'object' || v === null) return false
  const r = (v as Record<string, unknown>)[RESIZE_KEY] as Record<string, unknown> | undefined
  return typeof r === 'object' && r !== null && Array.isArray(r.parts) && Number.isSafeInteger(r.cut) && Number.isSafeInteger(r.point)
}

/** Builds the envelope from every old rank's cut share (index = old rank). */
export function resizeEnvelope (shares: readonly CutEnvelope[]): ResizeEnvelope {
  if (shares.length === 0) throw new BadRequestError('resizeEnvelope: no cut shares')
  const cut = shares[0]![CUT_KEY]
  const point = shares[0]!.point
  shares.forEach((s, r) => {
    if (s[CUT_KEY] !== cut || s.point !== point) throw new BadRequestError(`resizeEnvelope: rank ${r}'s share is of cut ${s[CUT_KEY]} (point ${s.point}), not of cut ${cut} (point ${point})`)
  })
  return { [RESIZE_KEY]: { cut, point, parts: shares.map((s) => ({ state: s.state, channels: s.channels })) } }
}

/** Splits a resize envelope into what the cuts machinery resumes from and what the program sees. */
export function openResize (env: ResizeEnvelope, size: number): { cut: CutEnvelope, info: ResizeInfo } {
  const r = env[RESIZE_KEY]
  return {
    // the new ranks continue the point and cut numbering of the cut; no channel state of the
    // old layout is replayed on the new ports
    cut: { [CUT_KEY]: r.cut, point: r.point, state: undefined, channels: {} },
    info: { fromSize: r.parts.length, toSize: size, states: r.parts.map((p) => p.state), channels: r.parts.map((p) => p.channels ?? {}) }
  }
}

function checkLayout (n: number, rank: number, size: number, where: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new BadRequestError(`${where}: n must be an integer >= 0 (got ${String(n)})`)
  if (!Number.isSafeInteger(size) || size < 1) throw new BadRequestError(`${where}: size must be an integer >= 1 (got ${String(size)})`)
  if (!Number.isSafeInteger(rank) || rank < 0 || rank >= size) throw new BadRequestError(`${where}: rank must be an integer from 0 to ${size - 1} (got ${String(rank)})`)
}

/**
 * The block `[lo, hi)` of `n` items that `rank` of `size` owns in a block distribution: contiguous,
 * in rank order, sizes differing by at most one (rank r owns floor(r·n/size) up to floor((r+1)·n/size)).
 */
export function blockRange (n: number, rank: number, size: number): [number, number] {
  checkLayout(n, rank, size, 'blockRange')
  return [Math.floor(rank * n / size), Math.floor((rank + 1) * n / size)]
}

/**
 * A rank's block of an array after a change of layout: `parts` are the old ranks' blocks in old
 * rank order (their concatenation is the whole array); the result is `rank`'s block of it in a
 * block distribution over `size` ranks. Typed arrays stay their type (a Float64Array gives a
 * Float64Array); anything else gives a plain array.
 */
export function redistribute<T> (parts: ReadonlyArray<ArrayLike<T>>, rank: number, size: number): T[]
export function redistribute (parts: ReadonlyArray<Float64Array>, rank: number, size: number): Float64Array
export function redistribute (parts: ReadonlyArray<ArrayLike<unknown>>, rank: number, size: number): unknown {
  if (!Array.isArray(parts)) throw new BadRequestError('redistribute: parts must be a list of the old ranks\' blocks')
  const n = parts.reduce((s, p) => s + p.length, 0)
  const [lo, hi] = blockRange(n, rank, size)
  const typed = parts.length > 0 && parts.every((p) => p instanceof Float64Array)
  const out: unknown[] | Float64Array = typed ? new Float64Array(hi - lo) : new Array<unknown>(hi - lo)
  let at = 0
  for (const p of parts) {
    const from = Math.max(lo, at)
    const to = Math.min(hi, at + p.length)
    for (let i = from; i < to; i++) out[i - lo] = p[i - at]
    at += p.length
    if (at >= hi) break
  }
  return out
}
