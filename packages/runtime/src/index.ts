/**
 * @packageDocumentation
 * The node-side job runtime: compiles a program from source (cached by content), runs each
 * local rank in a sandbox, and wires ranks along the job's RankGraph — IPC between ranks on
 * this node, QueueFrames over a RemoteLink to ranks on other nodes — with credit-based flow
 * control end to end.
 *
 * @example
 * ```ts
 * import { createRuntime } from '@mvm/runtime'
 * const rt = createRuntime({ dataDir: '/var/mvm' })
 * const inst = await rt.instantiate({
 *   jobId: 'j1', owner: 'alice', program: { source, language: 'ts' }, graph, placement: ['a', 'a'],
 *   self: 'a', params: { n: 1000 }, resources: { memoryMB: 256, wallTimeSec: 60 },
 *   queue: { type: 'fifo', capacity: 64, encoding: 'json' }
 * }, link)
 * await inst.start()
 * const results = await inst.done   // [{ rank: 0, exitCode: 0, result: ... }, ...]
 * await rt.stop()
 * ```
 */
export type { InstanceSpec, InstanceFiles, RunningJob, RankOutcome, Runtime, RuntimeInit } from './types.js'
export type { ProgramSource, Compiled, CompileOptions } from './compile.js'
export { createRuntime } from './runtime.js'
export type { PortStats } from './port-stats.js'
export { RANK_LOST_CODE } from './instance.js'
export { compileProgram } from './compile.js'
export { rankHostEntry, rankHostReadPaths, sdkUrl } from './paths.js'
