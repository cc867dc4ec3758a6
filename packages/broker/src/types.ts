import type { SlotHold } from './holds.js'
import type { Logger, ComponentSpec, JobState } from '@mvm/core'
import type { Dependency } from './deps.js'

// A job's life (queued → scheduled → running → succeeded | failed | cancelled) is `JobState`
// from @mvm/core: the SOAP contract's tns:JobState is the same union, and neither package
// depends on the other.

export const terminalStates: ReadonlySet<JobState> = new Set<JobState>(['succeeded', 'failed', 'cancelled'])

/** Default of {@link FaultTolerance.poisonAfter}. */
export const DEFAULT_POISON_AFTER = 2

/** Where a job may run: constraints filter the cluster first, then the strategy chooses. */
export interface PlacementConstraints {
  group?: string
  /** Every label here must be present on the node with the same value. */
  labels?: Record<string, string>
  /** Overrides the policy's strategy for this job only. */
  strategy?: 'spread' | 'pack'
  /** Only these peer IDs may be used. */
  nodes?: string[]
}

/** What the scheduler needs of a job profile; anything else in the request is kept and handed to the dispatcher. */
export interface JobRequest {
  name?: string
  owner?: string
  /** Higher runs first; default 0. */
  priority?: number
  /** Number of ranks (processes); each takes one slot. */
  size: number
  resources?: { memoryMB?: number, cpu?: number }
  placement?: PlacementConstraints
  /**
   * Jobs that must end first (Slurm's `--dependency`). `submit()` normalises it to
   * `[{ jobId, type }]` and stores that; it also accepts `{ job, type }` with `job` a job id,
   * unique id prefix or job name, and the short strings `afterok:j-12` / `j-12` (afterok).
   * Unmet, the job stays queued with a wait reason; never satisfiable (afterok and the
   * dependency failed or was cancelled), the job is cancelled saying which dependency failed.
   */
  dependsOn?: Dependency[]
  /** An array job: one child per value set (fields not given are the parent's); the parent only summarises them. */
  children?: Array<Partial<JobRequest>>
  [extra: string]: unknown
}

export interface Job {
  id: string
  parentId: string | null
  /** Child IDs, set on array parents only. */
  childIds?: string[]
  name: string
  owner: string | null
  state: JobState
  priority: number
  /** Submission order; ties of priority run in this order. */
  seq: number
  size: number
  request: JobRequest
  /** peerId per rank (index = rank) once scheduled. */
  placement: string[] | null
  reason: string | null
  result: unknown
  restarts: number
  /** sha256 (hex) of the program bundle, if one was submitted. */
  bundleSha: string | null
  createdAt: number
  updatedAt: number
  startedAt: number | null
  endedAt: number | null
  /** Runs of this job during which a node it ran on went down (since submission or release). */
  nodeDeaths?: number
  /** How many runs in a row ended with the same failure ({@link lastFailure}). */
  failureStreak?: number
  lastFailure?: string | null
}

/** Filters of `history()`: finished jobs, newest end first; times are epoch ms (`until` exclusive). */
export interface HistoryQuery {
  owner?: string
  state?: JobState
  name?: string
  since?: number
  until?: number
  /** At most this many (default 100, at most 10000). */
  limit?: number
}

/** One finished job with what each of its ranks cost, as `mvm history` / sacct shows it. */
export interface HistoryEntry { job: Job, ranks: RankRecord[] }

export interface JobEvent {
  jobId: string
  at: number
  from: JobState | null
  to: JobState
  detail: string | null
}

/** A rank's result as the broker records it (`rank_results`), from the report of the node that ran it. */
export interface RankRecord {
  rank: number
  exitCode: number
  /** The rank's return value (JSON). */
  output?: unknown
  /** Why the rank failed, when exitCode is not 0. */
  error?: string
  peerId?: string
  /** When the rank ran, in epoch ms as its node measured it. */
  startedAtMs?: number
  finishedAtMs?: number
  /** CPU seconds the rank used, as its process measured them. */
  cpuSec?: number
  /** Peak RSS (MB) of the process that ran it. */
  maxRssMB?: number
  /** How it ended: exit, killed, timeout, memory, error, … (the sandbox's exit reason). */
  exitReason?: string
  /** The profile's `outputs` this rank left, as stored by the super-peer (content ids). */
  outputs?: Array<{ name: string, id: string, size: number }>
}

/** A rank's latest checkpoint as the broker stores it (until the job ends). */
export interface CheckpointRecord {
  rank: number
  /** The job's restart count when the checkpoint was made. */
  attempt: number
  /** The rank's save counter within that attempt. */
  seq: number
  /** The state given to `ctx.checkpoint()`, as JSON text. */
  stateJson: string
  /** The node that sent it. */
  peerId: string | null
  at: number
}

export interface JobResult {
  jobId: string
  state: JobState
  reason: string | null
  /** Rank 0's output (the conventional root result), or the only rank's output when rank 0 returned none; for an array parent, each child's value in order. */
  value: unknown
  ranks: RankRecord[]
}

/** A node as the latest monitoring report describes it. */
export interface NodeView {
  peerId: string
  group: string
  /** Only `up` nodes receive work. */
  state: 'up' | 'down' | 'left'
  labels: Record<string, string>
  totalSlots: number
  freeSlots: number
  freeMemoryMB: number
  load: number
}

/** What a strategy sees: constraint-filtered nodes whose free figures include the broker's own reservations. */
export interface Candidate extends NodeView {
  /** How many more ranks of this job the node can hold (slots and memory). */
  capacity: number
}

export interface PlacementInput {
  jobId: string
  size: number
  memoryMB: number
}

/** A scheduling strategy: returns a peerId per rank (index = rank), or null when the job cannot be placed whole. */
export interface SchedulingStrategy {
  readonly name: string
  place: (job: PlacementInput, candidates: readonly Candidate[]) => string[] | null
}

export type StrategySpec = string | ComponentSpec

/** How the broker reaches the nodes; the super-peer implements it over the control protocol. */
export interface Dispatcher {
  /** Resolves when every rank was instantiated (job → running); rejecting requeues or fails the job per policy. */
  start: (job: Job, placement: string[], options: { signal: AbortSignal, resume: boolean }) => Promise<void>
  /** Terminates whatever is left of the job on its peers and frees their resources. */
  stop: (job: Job, placement: string[], reason: string) => Promise<void>
  /** Asks the job's rank 0 for a coordinated cut at its next checkpoint point (a resize needs one). */
  requestCut?: (job: Job) => Promise<void>
}

export const Recovery = { requeue: 'requeue', fail: 'fail', restart: 'restart' } as const
export type Recovery = (typeof Recovery)[keyof typeof Recovery]

export interface FaultTolerance {
  /**
   * `requeue`: back to the queue, starting from scratch; `restart`: back to the queue, and the
   * dispatcher sees `resume: true` so ranks restore their last checkpoint; `fail`: the job fails.
   */
  recovery: Recovery
  /** Requeues/restarts allowed per job before it fails. */
  maxRestarts: number
  /**
   * Whether a failed rank (program error, non-zero exit, limit) is retried like a lost node;
   * default false: a program error fails the job at once.
   */
  retryFailedRanks?: boolean
  /**
   * A job is held (state `held`, with the reason) once this many of its runs coincided with a
   * node going down, or ended with the same failure in a row, instead of being requeued onto
   * the next peer; `mvm release` queues it again. 0 turns holding off. Default 2.
   */
  poisonAfter?: number
}

/** A user's limits; absent fields are no limit. */
export interface UserLimits { maxRunningRanks?: number, maxQueuedJobs?: number }

/** Per-user scheduling rules, read from the policy at each use (so a policy change applies at once). */
export interface UserQuotas {
  /** Limits for a user named in `users` replace these field by field. */
  defaults: UserLimits
  users: Record<string, UserLimits>
  /** Among jobs of equal priority, the owner with the fewest running ranks goes first. */
  fairShare: boolean
}

export interface BrokerInit {
  dataDir: string
  /** Per-user quotas and fair share; none by default (one queue, in order). */
  quotas?: () => UserQuotas
  dispatcher: Dispatcher
  /**
   * Malleable jobs whose profile leaves `processes.auto` on are grown into free slots (when no
   * queued job can use them) and shrunk toward `min` for a queued job of higher priority that
   * does not fit. Default true; false: only `resize()` changes a job's size.
   */
  autoResize?: boolean
  /** A malleable job runs at least this long between two automatic resizes (default 2000 ms). */
  resizeCooldownMs?: number
  strategy?: StrategySpec
  /** When the head of the queue cannot fit, later jobs that fit may start (default true). */
  backfill?: boolean
  faultTolerance?: FaultTolerance
  logger?: Logger
  /** Clock in ms; injectable for tests. */
  now?: () => number
}

export interface JobChangeEvent {
  kind: 'state' | 'progress'
  jobId: string
  parentId: string | null
  state: JobState
  from?: JobState | null
  reason?: string | null
  at: number
  ranksStarted?: number
  ranksDone?: number
  size?: number
}

export interface SubmitResult { jobId: string, childJobIds: string[] }

export interface Broker {
  start: () => Promise<void>
  stop: () => Promise<void>
  isStarted: () => boolean
  /** Stores a job; it is durable (committed) when this returns. */
  submit: (request: JobRequest, options?: { bundle?: Uint8Array | string }) => SubmitResult
  /**
   * Several jobs in one transaction, durable when this returns; one invalid request stores none.
   * `commit: 'batch'`: they join this turn's group commit instead, durable once `flush()`
   * resolves; a caller that acknowledges them must await it first.
   */
  submitMany: (items: ReadonlyArray<{ request: JobRequest, bundle?: Uint8Array | string }>, options?: { commit?: 'now' | 'batch' }) => SubmitResult[]
  /**
   * Resolves once every state change so far is committed. State changes are group-committed
   * (one transaction per event-loop turn); await this before telling a client about one.
   */
  flush: () => Promise<void>
  /** Rows the job store changed since it opened: a replica compares it to know a snapshot is due. */
  changeCount: () => number
  /** The job store as one SQLite file image (committed state): a standby super-peer's copy. */
  snapshot: () => Uint8Array
  get: (jobId: string) => Job
  /**
   * The full id of the job named by `idOrPrefix`: the id itself, or a unique prefix of one (also of
   * its random part, without `j-`). No match: E_NOT_FOUND; several: E_BAD_REQUEST listing them.
   */
  resolveId: (idOrPrefix: string) => string
  /** A job id, unique id prefix, or job name (the latest job of that name) as a full job id; E_NOT_FOUND otherwise. */
  resolveJobRef: (ref: string) => string
  events: (jobId: string) => JobEvent[]
  list: (query?: { state?: JobState, limit?: number, parentId?: string }) => Job[]
  /** Finished jobs (not array parents) with their ranks' accounting, newest end first. */
  history: (query?: HistoryQuery) => HistoryEntry[]
  /** Forgets finished jobs that ended before `cutoff` (epoch ms), in batches; returns how many went. */
  prune: (cutoff: number) => number
  /** Jobs in the store by state, zeros included; array parents are not counted (their children are). */
  countByState: () => Record<JobState, number>
  cancel: (jobId: string, options?: { by?: string }) => Promise<Job>
  /**
   * Restarts a running malleable job (`processes: { min, max }`) at `size` ranks from a
   * coordinated cut taken now: its ranks keep their nodes (a grow adds ranks on free slots), every
   * new rank gets the old layout (`ctx.resized`). E_NOT_MALLEABLE for another job, E_BAD_REQUEST
   * for a size out of bounds, E_CAPACITY when a grow finds no room, E_TIMEOUT when no cut comes.
   * Resolves once the new layout was dispatched.
   */
  resize: (jobId: string, size: number, options?: { by?: string, signal?: AbortSignal, timeoutMs?: number }) => Promise<Job>
  /** A held job (by the broker as poison, or by a user) back to the queue with fresh poison counts; InvalidStateError unless it is held. */
  release: (jobId: string, options?: { by?: string }) => Promise<Job>
  /** A queued job to held (reason "held by <by>") until released; InvalidStateError unless it is queued (held again: no-op). */
  hold: (jobId: string, options?: { by?: string }) => Promise<Job>
  /**
   * Queues a job again as a fresh run (restart count 0, no result): a scheduled or running job
   * is stopped on its peers first; a succeeded, failed or cancelled one is queued again.
   * InvalidStateError for a queued or held job. An array parent requeues its ended elements.
   */
  requeue: (jobId: string, options?: { by?: string }) => Promise<Job>
  /**
   * Why a job waits, in words ("needs 8 slots, group has 4 free of 6", "waiting on job j-12
   * (running) to succeed", "held by alice"); null unless it is queued or held.
   */
  waitReason: (jobId: string) => string | null
  /**
   * Keeps a queued job from being scheduled until `openGate`, `reason` showing as its wait
   * reason (e.g. "building environment <key>"). Gates live in memory: a restarted broker has
   * none, so whoever set one checks again after a restart.
   */
  gate: (jobId: string, reason: string) => void
  /** Lets a gated job be scheduled (a no-op for a job with no gate). */
  openGate: (jobId: string) => void
  /** A queued job to failed with this reason (e.g. its environment could not be built); a no-op once it left the queue. */
  failQueued: (jobId: string, reason: string) => void
  /** A setting kept in the job store (e.g. the policy applied at run time), undefined when unset. */
  setting: (key: string) => string | undefined
  /** Stores a setting durably before it returns; null removes it. */
  putSetting: (key: string, value: string | null) => void
  result: (jobId: string) => JobResult
  bundle: (sha256: string) => Uint8Array | undefined
  updateNodes: (views: NodeView[]) => void
  /**
   * The reservations in force (replacing the last list): while one is active its slots go only to
   * jobs whose request names it (`reservation`), which run only there; when it ends they are free.
   */
  setReservations: (holds: SlotHold[]) => void
  /** The active reservations: slots held per peer and how many of them their jobs use. */
  reservations: () => Array<{ name: string, perPeer: Record<string, number>, used: Record<string, number> }>
  nodeDown: (peerId: string) => Promise<void>
  nodes: () => NodeView[]
  reportRank: (jobId: string, rank: RankRecord) => void
  ranksStarted: (jobId: string, n: number) => void
  /**
   * Stores a rank's latest checkpoint (JSON text, at most 16 MiB) for a `restart` recovery.
   * Returns false, storing nothing, when it is stale: the job is not scheduled/running, the
   * sender is not the node placed for that rank, or a newer one is already stored.
   */
  saveCheckpoint: (jobId: string, rank: number, stateJson: string, options?: { seq?: number, peerId?: string }) => boolean
  /** The stored checkpoints of a job, by rank (empty once it ended). */
  checkpoints: (jobId: string) => CheckpointRecord[]
  setStrategy: (spec: StrategySpec) => void
  setFaultTolerance: (ft: FaultTolerance) => void
  strategy: () => string
  /** Runs one scheduling pass now; returns how many jobs were dispatched. */
  schedule: () => number
  on: (event: 'job', cb: (e: JobChangeEvent) => void) => () => void
  /**
   * The nodes being drained (replacing the last list): they stay up but get no new ranks; a
   * waiting job's reason names them. What runs there is moved by whoever drains (see relocate).
   */
  setDrained: (peerIds: readonly string[]) => void
  /** The dispatched jobs with a rank placed on that node. */
  jobsOn: (peerId: string) => string[]
  /**
   * Where a running job would run if placed again now with `pins` (rank → node) and the other
   * ranks placed by its strategy, its own slots counting as free. CapacityError when there is
   * no room; InvalidStateError unless it is running.
   */
  planRelocation: (jobId: string, pins: ReadonlyMap<number, string>) => string[]
  /**
   * Places a running job again (a migration): its ranks are stopped, then it is dispatched at
   * once with `pins` and resumes from its last complete cut (the caller makes sure there is a
   * fresh one). The job passes through `queued` (reason `reason`) and does not count a restart.
   * If a pinned node went away meanwhile it waits in the queue and is placed as any job.
   */
  relocate: (jobId: string, options: { pins: ReadonlyMap<number, string>, reason: string }) => Promise<Job>
}
