import type { Logger } from '@mvm/core'
import type { RankGraph } from '@mvm/model'
import type { SandboxDriver, SandboxPool, ExitReason, PoolStats } from '@mvm/sandbox'
import type { ProgramSource } from './compile.js'
import type { QueueSettings } from './protocol.js'
import type { PortStats } from './port-stats.js'
import type { LinkFrame, RemoteLink } from '@mvm/queue'

export type { LinkFrame, RemoteLink }

export interface InstanceSpec {
  jobId: string
  owner: string
  program: ProgramSource
  graph: RankGraph
  /** Node id per rank. */
  placement: string[]
  /** This node's id: the ranks placed on it run here. */
  self: string
  params: Record<string, unknown>
  resources: { memoryMB: number, cpuTimeSec?: number, wallTimeSec: number }
  queue: QueueSettings
  /** Last checkpointed state per rank, for a restart (`ctx.restored`). */
  restored?: Record<number, unknown>
  /** The profile's `checkpoint`; `coordinated` makes the ranks' checkpoints consistent cuts. */
  checkpoint?: { mode: 'rank' | 'coordinated', intervalSec: number }
}

/** How one local rank ended, as this node's runtime saw it (the peer reports it to the broker). */
export interface RankOutcome {
  rank: number
  exitCode: number | null
  /** The program's return value (`null` for undefined). */
  result?: unknown
  error?: { code: string, message: string, stack?: string }
  startedAtMs: number
  finishedAtMs: number
  reason?: ExitReason
  /** CPU seconds the rank used (its own, also in a reused process); absent when it was killed before reporting. */
  cpuSec?: number
  /** Peak RSS of the process that ran it (MB); 0 when unknown. */
  maxRssMB?: number
  /** The outputs it left, as stored by `InstanceFiles.collect`. */
  outputs?: Array<{ name: string, id: string, size: number }>
}

/** A job's data as the node prepared it: inputs to place in each rank's work dir, outputs to collect. */
export interface InstanceFiles {
  /** Prefetched inputs: a verified local file per work-dir name, linked (never copied when it can be) into each rank's work dir. */
  local: Array<{ name: string, path: string, size: number }>
  /** On-demand inputs: ranks read them range by range through `read`. */
  onDemand: Array<{ name: string, size: number }>
  read?: (name: string, offset: number, length: number) => Promise<Uint8Array>
  outputs: Array<{ path: string, ranks: 'all' | number[] }>
  /** Stores one output file (checked to be a regular file inside the work dir) under `name`; returns its content id. */
  collect: (absPath: string, name: string) => Promise<{ id: string, size: number }>
  /** Puts the job's golden environment into a rank's work dir (hard links to the node's one copy). */
  environment?: (workDir: string) => Promise<void>
}


export interface RunningJob {
  readonly jobId: string
  /** `<dataDir>/jobs/<jobId>`: checkpoints; removed when every local rank succeeded. */
  readonly workDir: string
  /** Per local rank: its stdout/stderr log files (kept for `mvm logs`). */
  readonly logs: Record<number, { out: string, err: string }>
  /** Compiles, spawns every local rank and wires it; resolves once all loaded their program. */
  start: (options?: { signal?: AbortSignal }) => Promise<void>
  /** The local ranks' results, once every one has exited. Never rejects. */
  readonly done: Promise<RankOutcome[]>
  onRank: (cb: (r: RankOutcome) => void) => void
  /**
   * Called with each `ctx.checkpoint()` state (its JSON text) after it was saved in `workDir`,
   * in the order the rank made them (so a node can ship it off before the node itself dies).
   */
  onCheckpoint: (cb: (rank: number, json: string) => void) => void
  /** Asks rank 0 for a coordinated cut at its next checkpoint point; false when rank 0 does not run here. */
  requestCut: () => boolean
  /** Items and bytes each local rank sent per port so far (direct-socket sends as last reported). */
  portStats: () => PortStats[]
  /** OS process id of each local rank whose sandbox is running (for Node.ListProcesses). */
  pids: () => Record<number, number>
  /** Cancels and stops every local rank (SIGKILL after a short grace); resolves when all are gone. */
  terminate: (reason?: string) => Promise<void>
}

export interface RuntimeInit {
  dataDir: string
  /** A pool whose entry is `rankHostEntry` and whose readPaths include `rankHostReadPaths()`. */
  pool?: SandboxPool
  /** Used when no pool is given: a driver or its name (default `process`). */
  driver?: SandboxDriver | string
  /**
   * Warm rank processes kept by the runtime's own pool (default 2): a rank then starts from a
   * pre-started Node process instead of paying ~100 ms of boot and module loading. The pool
   * refills in the background as warm processes are taken.
   */
  poolSize?: number
  /**
   * Policy `sandbox.reuseForSameOwner` (default true): a rank that returned a result leaves its
   * process (work dir wiped, time limits reset, env unchanged) to the next rank of the same
   * owner and memory class; never to another owner; a failed or killed rank's process is never
   * reused. Program globals do persist between one owner's jobs in a reused process.
   */
  reuseForSameOwner?: boolean
  /** Released processes kept waiting for their owner (default max(4, 2 × poolSize)). */
  reuseMax?: number
  /**
   * The memory class (MB) pooled processes are started with (default 256, the jobs' default
   * `resources.memoryMB`): only ranks asking exactly this much get a warm process, since the
   * heap limit is fixed when Node starts.
   */
  poolMemoryMB?: number
  logger?: Logger
}

export interface Runtime {
  readonly dataDir: string
  instantiate: (spec: InstanceSpec, link: RemoteLink, options?: { signal?: AbortSignal, files?: InstanceFiles }) => Promise<RunningJob>
  /** Compiles (or finds in the cache) without running. */
  compile: (program: ProgramSource) => Promise<{ codePath: string, cached: boolean, hash: string }>
  /** Traffic per port of every job running here (one row per local rank and port that sent). */
  portStats: () => PortStats[]
  /** The warm pool's counts, once the first job started it. */
  poolStats: () => PoolStats | undefined
  /** Terminates live instances and stops the runtime's own pool. */
  stop: () => Promise<void>
}
