/**
 * @packageDocumentation
 * The job SDK a program imports: `job(fn)` wraps the rank's function; the context gives its
 * rank, size, params and ports, point-to-point `send`/`recv` on named ports (the topology
 * decides where they lead), collectives on any topology, logging and checkpoints.
 *
 * @example
 * ```ts
 * import { job } from '@mvm/job'
 * export default job(async (ctx) => {
 *   await ctx.send('next', ctx.rank)
 *   const left = await ctx.recv('prev')
 *   return await ctx.reduce(left, 'sum')   // the rank's result; undefined except at rank 0
 * })
 * ```
 */
import type { JobFunction, JobProgram } from './types.js'

export type { JobContext, ReduceOp, RecvFn, Transport, ContextInit, JobFunction, JobProgram, JobFiles, InputFile, InputInfo, CheckpointSettings, SharedSpace } from './types.js'
export { CUT_KEY, isCutEnvelope, type CutEnvelope } from './cut.js'
export { createContext } from './context.js'
export { blockRange, redistribute, resizeEnvelope, isResizeEnvelope, RESIZE_KEY, type ResizeInfo, type ResizeEnvelope, type ResizePart } from './resize.js'

/** Marks a function as a job program: `export default job(async (ctx) => result)`. */
export function job (fn: JobFunction): JobProgram {
  if (typeof fn !== 'function') throw new TypeError('job(fn): fn must be a function (ctx) => result')
  return Object.freeze({ kind: 'mvm.job' as const, run: fn })
}

/** Whether a module's default export is a job program (or a bare function, accepted as well). */
export function toJobFunction (exported: unknown): JobFunction | undefined {
  if (typeof exported === 'function') return exported as JobFunction
  if (typeof exported === 'object' && exported !== null && (exported as JobProgram).kind === 'mvm.job') return (exported as JobProgram).run
  return undefined
}
