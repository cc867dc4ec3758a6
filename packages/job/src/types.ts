import type { ResizeInfo } from './resize.js'
/**
 * A reduction: a built-in name (numbers, bigints, arrays and typed arrays element-wise; a typed
 * array stays its type), or a function combining two values (folded in rank order).
 */
export type ReduceOp = 'sum' | 'min' | 'max' | 'prod' | ((a: any, b: any) => any)

/** What a rank's program sees. Programs talk to ports and collectives, never to rank numbers. */
export interface JobContext {
  readonly rank: number
  readonly size: number
  readonly params: Readonly<Record<string, unknown>>
  /** This rank's port names from the topology. */
  readonly ports: readonly string[]
  /** Port groups for one-to-many sends (`send('spokes', v)` sends to every spoke). */
  readonly groups: Readonly<Record<string, readonly string[]>>
  /** Aborted when the job is cancelled; waits in the SDK reject with AbortError then. */
  readonly signal: AbortSignal
  /** The last state given to `checkpoint` before a restart, or undefined on a first run. */
  readonly restored: unknown
  /**
   * Set when this run started from a resize (a malleable job, `processes: { min, max }`): every
   * old rank's state at the cut, in old rank order, for the program to redistribute over the
   * new `rank`/`size` and `ports` (see `blockRange`, `redistribute`). `restored` is then undefined.
   */
  readonly resized: ResizeInfo | undefined
  /**
   * Runs `fn` with {@link resized} when this run started from a resize (and returns what it
   * returns), else nothing: the place a program turns the old layout into its new block. A
   * malleable job's resize points are its `checkpoint()` points.
   */
  onResize: <T>(fn: (info: ResizeInfo) => T | Promise<T>) => Promise<T | undefined>
  /** Waits while the peer's queue is full (backpressure). A group name sends to each of its ports. */
  send: (port: string, value?: unknown) => Promise<void>
  recv: RecvFn
  barrier: () => Promise<void>
  broadcast: <T>(value: T, root?: number) => Promise<T>
  /** The reduced value at `root`, undefined elsewhere. */
  reduce: <T>(value: T, op: ReduceOp, root?: number) => Promise<T | undefined>
  allReduce: <T>(value: T, op: ReduceOp) => Promise<T>
  /** Every rank's value in rank order at `root`, undefined elsewhere. */
  gather: <T>(value: T, root?: number) => Promise<T[] | undefined>
  /** `values[r]` to rank r; `values` is read only at `root` and must have `size` entries. */
  scatter: <T>(values: T[] | undefined, root?: number) => Promise<T>
  log: (...args: unknown[]) => void
  /**
   * Stores state (JSON) through the runtime; best effort. With `checkpoint.mode: coordinated`
   * every rank must call it the same number of times (a point the ranks pass in step); at some
   * points the state is stored as part of a consistent cut with the messages in flight.
   */
  checkpoint: (state: unknown) => Promise<void>
  /** The job's inputs (the profile's `inputs`), read-only. */
  readonly files: JobFiles
  /** A job-scoped key-value space hosted by the ranks (see `SharedSpace`). */
  readonly shared: SharedSpace
}

/**
 * A key-value space shared by a job's ranks. Each key has one home rank (a hash of the key) that
 * applies the operations on it one at a time in the order they arrive: every key is
 * linearizable, and a rank's own operations take effect in the order it made them; no ordering
 * across keys. `get(key, { replica: true })` reads a local replica instead (see its doc). Values are what the job's encoding carries (JSON values;
 * typed arrays with the json encoding). A rank serves its keys while its program runs, so ranks
 * that use `shared` should meet at a barrier before they return.
 */
export interface SharedSpace {
  /**
   * The value, or undefined when the key was never put. With `replica: true` the first such read
   * of a key fetches it from its home and subscribes this rank; the home then pushes every later
   * write of the key here, so further replica reads are local. A replica read is not
   * linearizable: it returns a value the key had, no older than what this rank last wrote or read
   * at the home for that key, and successive replica reads never go back (updates arrive in the
   * home's order).
   */
  get: (key: string, options?: { replica?: boolean }) => Promise<unknown>
  put: (key: string, value: unknown) => Promise<void>
  /** Sets `value` only if the current value equals `expected` (undefined: never put); true when set. */
  compareAndSet: (key: string, expected: unknown, value: unknown) => Promise<boolean>
  /** The rank that holds `key`. */
  home: (key: string) => number
}

/** One of the job's inputs as the rank sees it. */
export interface InputInfo {
  /** Its path in the work dir (`/`-separated, relative). */
  name: string
  size: number
  /** `prefetch`: a local file before the rank starts; `onDemand`: fetched range by range as read. */
  mode: 'prefetch' | 'onDemand'
}

export interface InputFile extends InputInfo {
  /** Up to `length` bytes from `offset` (fewer at the end of the file; at most 16 MiB per call). */
  read: (offset: number, length: number) => Promise<Uint8Array>
  /** The file (from `start`) in pieces of `chunkSize` bytes (default 1 MiB). */
  stream: (opts?: { chunkSize?: number, start?: number }) => AsyncIterable<Uint8Array>
  /** The whole file as UTF-8 text. */
  text: () => Promise<string>
}

export interface JobFiles {
  list: () => InputInfo[]
  open: (name: string) => Promise<InputFile>
  /** The local path of a prefetched input, for any file API (E_BAD_REQUEST for an on-demand one). */
  path: (name: string) => string
}

export interface RecvFn {
  (port: string): Promise<unknown>
  (): Promise<{ port: string, value: unknown }>
}

/**
 * How a context reaches the outside: the rank host binds it to IPC, tests bind it to memory.
 * Values are already decoded; ordering per port and per (rank, tag) is the transport's job.
 */
export interface Transport {
  sendPort: (port: string, value: unknown, signal: AbortSignal) => Promise<void>
  recvPort: (port: string, signal: AbortSignal) => Promise<unknown>
  recvAny: (signal: AbortSignal) => Promise<{ port: string, value: unknown }>
  /** The reserved collective channel, addressed by rank; `tag` tells collectives apart. */
  sendRank: (rank: number, tag: number, value: unknown, signal: AbortSignal) => Promise<void>
  recvRank: (rank: number, tag: number, signal: AbortSignal) => Promise<unknown>
  log: (line: string) => void
  checkpoint: (state: unknown) => Promise<void>
  /** Registers what to call when someone asks for a coordinated cut (`mvm checkpoint`). */
  cutRequests?: (fn: () => void) => void
  /** A byte range of an on-demand input, fetched through the node. */
  readInput?: (name: string, offset: number, length: number, signal: AbortSignal) => Promise<Uint8Array>
}

export interface ContextInit {
  rank: number
  size: number
  ports: string[]
  groups?: Record<string, string[]>
  params?: Record<string, unknown>
  restored?: unknown
  signal?: AbortSignal
  /**
   * For each rank a small integer naming its node (ranks with the same number share one).
   * Collectives combine on a node before crossing to another; without it every rank is
   * treated as remote.
   */
  locality?: number[]
  /** The job's inputs. */
  files?: InputInfo[]
  /** Where prefetched inputs are (the rank's work dir; default the current directory). */
  workDir?: string
  /** `coordinated`: `checkpoint()` is a point every rank passes in step, and cuts include the messages in flight. */
  checkpoint?: CheckpointSettings
}

/** The profile's `checkpoint` as a rank needs it. */
export interface CheckpointSettings {
  mode: 'rank' | 'coordinated'
  intervalSec: number
}

export type JobFunction = (ctx: JobContext) => unknown

/** What `job(fn)` returns and a program exports as default. */
export interface JobProgram {
  readonly kind: 'mvm.job'
  readonly run: JobFunction
}
