/**
 * @packageDocumentation
 * The OS-level VM layer: runs each job rank as a sandboxed Node process with its own private
 * working directory, a scrubbed environment, resource limits and an IPC channel.
 *
 * Drivers: `process` (default, no root: Node's permission model + /proc watchdog) and
 * `namespace` (root: the same process inside new PID/mount/net/IPC/UTS namespaces with cgroup
 * limits). A warm pool keeps processes started so a job does not wait for Node to boot.
 *
 * A root node runs every rank in its own session as `runAsUser` (default 65534), so a rank
 * cannot signal the node. A rank ended by a signal the node did not send exits with reason
 * `signal`. Memory: budget `memoryMB × 1.2 + 64 MiB`; as root with a writable memory cgroup the
 * kernel holds a rank within budget + 64 MiB (measured), the 50 ms RSS watchdog alone overshot
 * by up to ~220 MiB for a rank allocating in a tight loop.
 *
 * @example
 * ```ts
 * import { resolveDriver, createSandboxPool } from '@mvm/sandbox'
 * const driver = await resolveDriver('process')      // ConfigError if this machine cannot provide it
 * const pool = createSandboxPool({ driver, entry: '/abs/rank-entry.js', size: 2,
 *   baseDir: '/var/mvm/sbx', logDir: '/var/mvm/logs', limits: { memoryMB: 256 } })
 * const sb = await pool.acquire({ id: 'job1-r0', limits: { memoryMB: 256, wallTimeSec: 60 } })
 * // write the job's files into sb.workDir, then start it with the first message
 * sb.onMessage((m) => console.log('rank says', m))
 * await sb.send({ type: 'start' })
 * const info = await sb.exited                        // { reason: 'exit' | 'memory' | ..., code, ... }
 * await pool.stop()
 * ```
 */
export type { SandboxLimits, SandboxSpec, Sandbox, ExitInfo, KillOptions, Availability, SandboxDriver } from './types.js'
export { ExitReason } from './types.js'
export { processDriver, type ProcessDriverInit } from './process-driver.js'
export { DEFAULT_RUN_AS, type IdentityOptions, type RunAs } from './identity.js'
export { namespaceDriver, type NamespaceDriverInit } from './namespace-driver.js'
export { sandboxDrivers, resolveDriver } from './registry.js'
export { createSandboxPool, type SandboxPool, type SandboxPoolInit, type AcquireRequest, type PoolStats } from './pool.js'
