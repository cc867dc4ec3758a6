/**
 * @packageDocumentation
 * `@mvm/job/internal`: what this package's own tests use beyond the SDK (the reduce-op
 * resolver behind `reduce`/`allReduce`). Not part of the public API: it may change without notice.
 */
export { resolveOp } from './ops.js'
