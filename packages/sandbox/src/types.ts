import type { Socket } from 'node:net'

/** Resource limits of one sandbox. Unset fields mean "no limit from this layer". */
export interface SandboxLimits {
  /** Memory in MiB: V8 heap cap plus an RSS watchdog (process) or cgroup memory limit (namespace). */
  memoryMB?: number
  /** CPU seconds (user + system) the sandbox may consume. */
  cpuTimeSec?: number
  /** Wall-clock seconds from spawn (or from acquire, for a pooled sandbox). */
  wallTimeSec?: number
  /** Processes/threads the sandbox may hold (namespace driver: cgroup pids.max). */
  maxProcesses?: number
}

export interface SandboxSpec {
  id: string
  /** Absolute path of the JS module the sandboxed Node process runs. */
  entry: string
  args?: string[]
  /** Added to the scrubbed environment (PATH, LANG, TZ, NODE_ENV, HOME=workDir). */
  env?: Record<string, string>
  /** The sandbox's private directory: created with mode 0700; the only writable path. */
  workDir: string
  /** Extra read-only paths (the SDK's dist, node_modules, compiled code). */
  readPaths?: string[]
  limits: SandboxLimits
  /** `<logDir>/<id>.out` and `<logDir>/<id>.err` receive the process's stdout and stderr. */
  logDir: string
}

export const ExitReason = {
  EXIT: 'exit',
  WALL_TIME: 'wall-time',
  MEMORY: 'memory',
  CPU_TIME: 'cpu-time',
  KILLED: 'killed',
  /** Ended by a signal nobody in the node sent (OOM killer, `kill -9` of its pid): a lost slot, not the job's fault. */
  SIGNAL: 'signal',
  ERROR: 'error'
} as const
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason]

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
  reason: ExitReason
  message: string
  durationMs: number
  /** Peak resident memory seen (VmHWM), 0 when it could not be read. */
  maxRssMB: number
}

export interface KillOptions {
  /** Time between SIGTERM and SIGKILL; 0 kills at once. Default 2000 ms. */
  graceMs?: number
}

export interface Sandbox {
  /** The id given at spawn or acquire. */
  readonly id: string
  /** Host pid of the sandboxed Node process. */
  readonly pid: number
  readonly workDir: string
  /** Where stdout / stderr go. */
  readonly logs: { out: string, err: string }
  /**
   * Sends over IPC; resolves once the message is handed to the OS (waits when the channel is congested).
   * `handle` passes a socket along with it (the OS duplicates the descriptor into the sandbox;
   * this side's copy is closed once it is written).
   */
  send: (msg: unknown, options?: { signal?: AbortSignal, handle?: Socket }) => Promise<void>
  /** Registers a listener for messages from the sandboxed process; returns an unsubscribe function. */
  onMessage: (cb: (msg: unknown) => void) => () => void
  /** Settles (never rejects) when the process has exited and been reaped. */
  readonly exited: Promise<ExitInfo>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit info once reaped. */
  kill: (reason?: ExitReason, options?: KillOptions) => Promise<ExitInfo>
}

export interface Availability { ok: boolean, reason?: string }

export interface SandboxDriver {
  readonly name: string
  /** Whether this machine can provide the driver, and if not exactly what is missing. */
  available: () => Promise<Availability>
  spawn: (spec: SandboxSpec, options?: { signal?: AbortSignal }) => Promise<Sandbox>
}
