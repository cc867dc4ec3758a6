/**
 * The messages of the three WSDL contracts (wsdl/*.wsdl) as TypeScript types. Times are ISO 8601
 * strings (xs:dateTime), labels are a plain record (a key/value list on the wire), bundle
 * contents are bytes (xs:base64Binary on the wire). Optional fields are absent, never null.
 * Type names are the XSD type names (`tns:RankResult` is `RankResult`); `tns:JobState` is the
 * `JobState` of `@mvm/core`, which the broker's lifecycle uses too.
 */

import type { JobState } from '@mvm/core'

export const ServiceName = { Bootstrap: 'Bootstrap', Node: 'Node', Broker: 'Broker' } as const
export type ServiceName = (typeof ServiceName)[keyof typeof ServiceName]

export type Labels = Record<string, string>

// ---- Bootstrap -------------------------------------------------------------------------------

export interface BrokerInfo {
  group: string
  peerId: string
  multiaddrs: string[]
  soapUrl: string
  parentGroup?: string
  registeredAt: string
}

export interface GetBrokersRequest { group?: string }
export interface GetBrokersResponse { brokers: BrokerInfo[] }

export interface RegisterSuperPeerRequest {
  group: string
  peerId: string
  multiaddrs: string[]
  soapUrl: string
  parentGroup?: string
}
export interface RegisterSuperPeerResponse { accepted: boolean, leaseSec: number }

/** "Which node can run this": filters are ANDed; labels must all match exactly. */
export interface GetResourcesRequest { group?: string, labels?: Labels, minFreeSlots?: number }
export interface GetResourcesResponse { nodes: NodeInfo[] }

// ---- Node ------------------------------------------------------------------------------------

export interface NodeStatus {
  peerId: string
  roles: string[]
  group: string
  state: string
  load: number
  totalSlots: number
  freeSlots: number
  totalMemoryMB: number
  freeMemoryMB: number
  processes: number
  uptimeSec: number
  soapUrl: string
  multiaddrs: string[]
  labels: Labels
}

export type Empty = Record<string, never>

export interface AwakenRequest { jobId: string }
export interface AwakenResponse { ok: boolean }
export interface TerminateRequest { jobId: string }
export interface TerminateResponse { ok: boolean, stopped: number }

export interface ProcessInfo { jobId: string, rank: number, pid: number, state: string, startedAt: string }
export interface ListProcessesResponse { processes: ProcessInfo[] }

/** Each stream is the tail of its log file, at most `maxBytes` bytes (default 64 KiB, at most 1 MiB). */
export interface GetLogsRequest {
  jobId: string
  rank?: number
  maxBytes?: number
  /** A follow cursor (with `rank`): read the stream from this byte offset forward, not its tail. */
  outOffset?: number
  errOffset?: number
}
/**
 * One rank's output; `truncated` when either stream lost its beginning to the size bound.
 * `outEnd`/`errEnd`: the byte offset just past the text returned, the next call's cursor.
 */
export interface RankLog { rank: number, stdout: string, stderr: string, truncated: boolean, outEnd?: number, errEnd?: number }
export interface GetLogsResponse { logs: RankLog[] }

// ---- Broker ----------------------------------------------------------------------------------

export const NodeInfoState = { up: 'up', down: 'down', left: 'left' } as const
export type NodeInfoState = (typeof NodeInfoState)[keyof typeof NodeInfoState]

export interface NodeInfo {
  peerId: string
  group: string
  roles: string[]
  state: NodeInfoState
  load: number
  totalSlots: number
  freeSlots: number
  freeMemoryMB: number
  processes: number
  queueDepth: number
  lastSeen: string
  labels: Labels
  soapUrl?: string
  /** Set while the node is drained: `draining` while ranks still run there, then `drained`. */
  drain?: 'draining' | 'drained'
  /** The node's data layer: bytes and chunks moved, store hits/misses, dedup and zero-skipped chunks, store size. */
  data?: NodeDataCounters
}

/** Cumulative since the node started, except storedBytes/maxBytes (its store now). */
export interface NodeDataCounters {
  bytesIn: number
  bytesOut: number
  chunksIn: number
  chunksOut: number
  hits: number
  misses: number
  dedupChunks: number
  zeroChunks: number
  corrupt: number
  evictions: number
  storedBytes: number
  maxBytes: number
  /** Golden environments built here, found ready (no build or fetch), written out here. */
  envBuilds: number
  envReused: number
  envWritten: number
}

export interface ListNodesRequest { group?: string, subject?: string }
export interface ListNodesResponse { nodes: NodeInfo[] }
export interface GetNodeRequest { peerId: string }

export interface JobParam { name: string, value: string }
export interface BundleFile { path: string, content: Uint8Array }

export interface SubmitJobRequest {
  profileYaml: string
  profileName?: string
  params: JobParam[]
  bundle: BundleFile[]
  owner?: string
  /** Jobs that must end first, added to the profile's `spec.dependsOn`: `afterok:j-12`, `afterany:name`, or a job alone (afterok). */
  dependsOn?: string[]
  /**
   * Files already in the broker's store (uploaded with PutData or over HTTP /data), placed in
   * every rank's work dir under `name`. They cover the profile's local `inputs` (a folder's
   * files as `folder/file`); names the profile does not declare are added (a workflow passing
   * an earlier step's outputs).
   */
  inputs?: DataInput[]
  /**
   * Groups a job was offered to before this one (a super-peer that could not place it passes
   * it on): set by brokers, not users; a job that came this way is not passed on again.
   */
  viaGroups?: string[]
}

/** A stored file given to a job under a work-dir relative name. */
export interface DataInput { name: string, id: string }

/** A file in a node's content-addressed store. */
export interface DataEntry {
  id: string
  name: string
  size: number
  /** Bytes of its distinct non-zero chunks. */
  storedBytes: number
  hits: number
  /** Who keeps it from eviction (`job:<id>`, `user`). */
  pins: string[]
  createdAt: string
  lastUsedAt: string
}

/** A job's output file as stored by the broker after the job succeeded. */
export interface JobOutput { name: string, id: string, size: number, rank: number }

/** Uploads a file of at most 16 MiB (larger ones go through HTTP PUT /data, see the README). */
export interface PutDataRequest { name: string, content: Uint8Array, subject?: string }
export interface PutDataResponse { id: string, size: number }
/** A byte range of a stored file (whole file when `length` is absent); at most 16 MiB per call. */
export interface GetDataRequest { id: string, offset?: number, length?: number, subject?: string }
export interface GetDataResponse { id: string, size: number, offset: number, content: Uint8Array }
export interface ListDataRequest { subject?: string }
export interface ListDataResponse { files: DataEntry[], storedBytes: number, maxBytes: number }
export interface DataIdRequest { id: string, subject?: string }
export interface RemoveDataResponse { removed: boolean }
/** Slots held for the jobs naming `name`: `slots` of them, or whole `nodes`; from `start` (default now) for `durationSec`. */
export interface ReserveRequest { name: string, nodes: string[], slots?: number, start?: string, durationSec: number, owners: string[], subject?: string }
export interface ReserveResponse { name: string, from: string, to: string }
/** Moves rank `rank` of a running job to `node` (peer ID, short ID, unique prefix or name label of a node of the group). */
export interface MigrateRankRequest { jobId: string, rank: number, node: string, subject?: string }
export interface NodeRequest { node: string, subject?: string }
/** A node's drain: `moving` jobs have ranks there being moved, `staying` ones finish there. */
export interface DrainNodeResponse { peerId: string, state: 'draining' | 'drained' | 'up', moving: string[], staying: string[] }
export interface SubmitJobResponse { jobId: string, childJobIds: string[] }

/** Several submissions in one call (one transaction: all accepted or none); `submitted[i]` answers `jobs[i]`. */
export interface SubmitJobsRequest { jobs: SubmitJobRequest[] }
export interface SubmitJobsResponse { submitted: SubmitJobResponse[] }

/** Long poll: the reply comes once the job is terminal or after `timeoutMs` (default 20 s, at most 25 s). */
export interface WaitJobRequest { jobId: string, timeoutMs?: number, subject?: string }
/** The same for many jobs: the reply comes once all are terminal or after `timeoutMs`; `jobs[i]` is `jobIds[i]`. */
export interface WaitJobsRequest { jobIds: string[], timeoutMs?: number, subject?: string }
export interface WaitJobsResponse { jobs: JobInfo[] }

export interface Placement { rank: number, peerId: string }

export interface JobInfo {
  jobId: string
  parentId?: string
  name: string
  state: JobState
  priority: number
  size: number
  owner: string
  submittedAt: string
  startedAt?: string
  finishedAt?: string
  reason?: string
  placement: Placement[]
  ranksStarted: number
  ranksFinished: number
  /** An array element's own values (the ones `spec.array` gave it), in the profile's key order; absent otherwise. */
  params?: JobParam[]
  /** An array parent's elements, in order; absent otherwise. */
  childJobIds?: string[]
  /** Why a queued or held job is not running, in words; absent for other states. */
  waitReason?: string
  /** The group whose super-peer runs the job, when this broker passed it on to another group. */
  group?: string
}

/**
 * `subject` on Broker requests: who asks, for the policy's role-based access (absent: "anonymous").
 * A client made with `createBrokerClient(url, { subject })` fills it in on every call.
 */
export interface JobIdRequest { jobId: string, subject?: string }
/** `ResizeJob`: the job's new number of ranks, within its profile's processes: { min, max }. */
export interface ResizeJobRequest { jobId: string, size: number, subject?: string }
export interface ListJobsRequest { state?: JobState, limit?: number, subject?: string }
export interface ListJobsResponse { jobs: JobInfo[] }

export interface RankResult {
  rank: number
  peerId: string
  exitCode: number
  resultJson?: string
  error?: string
  startedAt: string
  finishedAt: string
  /** CPU seconds the rank used (absent when its process was killed before it could say). */
  cpuSec?: number
  /** Peak RSS (MB) of the process that ran it; a reused process's peak covers its earlier ranks too. */
  maxRssMB?: number
  /** How the rank ended: exit, killed, wall-time, cpu-time, memory, signal, error. */
  exitReason?: string
}

/** Filters of ListHistory (all optional; `since`/`until` bound the end time, ISO 8601, `until` exclusive). */
export interface ListHistoryRequest { owner?: string, state?: JobState, name?: string, since?: string, until?: string, limit?: number, subject?: string }

/** A finished job and what it cost, like a sacct line. */
export interface JobAccounting {
  jobId: string
  parentId?: string
  name: string
  owner: string
  state: JobState
  size: number
  restarts: number
  submittedAt: string
  startedAt?: string
  finishedAt: string
  reason?: string
  /** Submission to (last) start. */
  queuedSec: number
  /** Last start to end (0 for a job that never started). */
  wallSec: number
  /** Sum over its ranks. */
  cpuSec: number
  /** The largest of its ranks. */
  maxRssMB: number
  ranks: RankResult[]
}
export interface ListHistoryResponse { jobs: JobAccounting[] }

export interface GetJobResultResponse {
  jobId: string
  state: JobState
  resultJson?: string
  reason?: string
  ranks: RankResult[]
  /** As JobInfo.params: an array element's values, so a result can be labelled by them. */
  params?: JobParam[]
  /** The files the profile's `outputs` named, stored after success (fetch with GetData or HTTP). */
  outputs?: JobOutput[]
}

/**
 * `policyYaml`, or `previous: true` to restore the policy in force before the last change.
 * `dryRun` reports the change without making it; `force` applies one that takes the caller's
 * own right to submit, list jobs, read or apply policies (refused otherwise).
 */
/** `version`: go back to the applied policies of that version (`GetPolicy` with `history` lists them). */
export interface ApplyPolicyRequest { policyYaml?: string, subject?: string, dryRun?: boolean, force?: boolean, previous?: boolean, version?: number }
/** `changes`: one line per effective setting that differs (`path: before -> after`); `lostRights`: `subject: perm, perm`. */
export interface ApplyPolicyResponse { applied: boolean, warnings: string[], changes?: string[], lostRights?: string[] }
/** `node`: the policy that node runs (peer ID, short ID, unique prefix or name label) instead of the broker's. */
export interface GetPolicyRequest { subject?: string, node?: string, history?: boolean }
export interface GetPolicyResponse { policyJson: string }

export interface GetJobLogsRequest extends GetLogsRequest { subject?: string }
/** A rank's log as the broker gathered it from `peerId`; `error` says why it could not be fetched. */
export interface JobRankLog extends RankLog { peerId: string, error?: string }
export interface GetJobLogsResponse { logs: JobRankLog[] }

// ---- handlers --------------------------------------------------------------------------------

/**
 * Who made a request, as the server's authentication established it. `user` is absent when the
 * request carried no credentials (allowed only while authentication is not required).
 */
export interface Caller {
  user?: string
  /** How `user` was proven: WS-Security UsernameToken in the SOAP header, or a bearer token in HTTP `Authorization`. */
  method: 'none' | 'username-token' | 'bearer'
}

/** What a handler knows about the caller. */
export interface RequestContext { remoteAddress: string, caller?: Caller }

export type Handler<Req, Res> = (req: Req, ctx: RequestContext) => Promise<Res>

/** Every operation is optional: one without a handler answers an E_UNAVAILABLE fault. */
export interface BootstrapHandlers {
  GetBrokers?: Handler<GetBrokersRequest, GetBrokersResponse>
  RegisterSuperPeer?: Handler<RegisterSuperPeerRequest, RegisterSuperPeerResponse>
  GetResources?: Handler<GetResourcesRequest, GetResourcesResponse>
}

export interface NodeHandlers {
  GetStatus?: Handler<Empty, NodeStatus>
  Awaken?: Handler<AwakenRequest, AwakenResponse>
  Terminate?: Handler<TerminateRequest, TerminateResponse>
  ListProcesses?: Handler<Empty, ListProcessesResponse>
  GetLogs?: Handler<GetLogsRequest, GetLogsResponse>
}

export interface BrokerHandlers {
  ListNodes?: Handler<ListNodesRequest, ListNodesResponse>
  GetNode?: Handler<GetNodeRequest, NodeInfo>
  SubmitJob?: Handler<SubmitJobRequest, SubmitJobResponse>
  GetJob?: Handler<JobIdRequest, JobInfo>
  ListJobs?: Handler<ListJobsRequest, ListJobsResponse>
  ListHistory?: Handler<ListHistoryRequest, ListHistoryResponse>
  CancelJob?: Handler<JobIdRequest, JobInfo>
  /** A held job back to queued; E_INVALID_STATE for a job that is not held. */
  ReleaseJob?: Handler<JobIdRequest, JobInfo>
  /** A queued job to held until released; E_INVALID_STATE unless queued (or already held). */
  HoldJob?: Handler<JobIdRequest, JobInfo>
  /** A consistent cut of a running job with `checkpoint.mode: coordinated`, at its next checkpoint point. */
  CheckpointJob?: Handler<JobIdRequest, JobInfo>
  ResizeJob?: Handler<ResizeJobRequest, JobInfo>
  /** A scheduled/running job stopped and queued again, an ended one queued again; E_INVALID_STATE for queued or held. */
  RequeueJob?: Handler<JobIdRequest, JobInfo>
  GetJobResult?: Handler<JobIdRequest, GetJobResultResponse>
  ApplyPolicy?: Handler<ApplyPolicyRequest, ApplyPolicyResponse>
  GetPolicy?: Handler<GetPolicyRequest, GetPolicyResponse>
  GetJobLogs?: Handler<GetJobLogsRequest, GetJobLogsResponse>
  SubmitJobs?: Handler<SubmitJobsRequest, SubmitJobsResponse>
  WaitJob?: Handler<WaitJobRequest, JobInfo>
  WaitJobs?: Handler<WaitJobsRequest, WaitJobsResponse>
  PutData?: Handler<PutDataRequest, PutDataResponse>
  GetData?: Handler<GetDataRequest, GetDataResponse>
  ListData?: Handler<ListDataRequest, ListDataResponse>
  RemoveData?: Handler<DataIdRequest, RemoveDataResponse>
  Reserve?: Handler<ReserveRequest, ReserveResponse>
  /** A rank of a running job (checkpoint.mode: coordinated) moved to another node of the group, from a fresh cut. */
  MigrateRank?: Handler<MigrateRankRequest, JobInfo>
  /** A node takes no new ranks; the ranks running there move elsewhere when they can. */
  DrainNode?: Handler<NodeRequest, DrainNodeResponse>
  /** A drained node takes ranks again. */
  ResumeNode?: Handler<NodeRequest, DrainNodeResponse>
}

export interface ServiceHandlers {
  Bootstrap?: BootstrapHandlers
  Node?: NodeHandlers
  Broker?: BrokerHandlers
}

/** Options every client call takes. */
export interface CallOptions { signal?: AbortSignal, timeoutMs?: number }

export interface BootstrapClient {
  readonly url: string
  GetBrokers: (req?: GetBrokersRequest, options?: CallOptions) => Promise<GetBrokersResponse>
  RegisterSuperPeer: (req: RegisterSuperPeerRequest, options?: CallOptions) => Promise<RegisterSuperPeerResponse>
  GetResources: (req?: GetResourcesRequest, options?: CallOptions) => Promise<GetResourcesResponse>
}

export interface NodeClient {
  readonly url: string
  GetStatus: (options?: CallOptions) => Promise<NodeStatus>
  Awaken: (req: AwakenRequest, options?: CallOptions) => Promise<AwakenResponse>
  Terminate: (req: TerminateRequest, options?: CallOptions) => Promise<TerminateResponse>
  ListProcesses: (options?: CallOptions) => Promise<ListProcessesResponse>
  GetLogs: (req: GetLogsRequest, options?: CallOptions) => Promise<GetLogsResponse>
}

export interface BrokerClient {
  readonly url: string
  /** The HTTP `Authorization` header matching the client's credentials, for the node's /data routes. */
  readonly httpAuthorization?: string
  ListNodes: (req?: ListNodesRequest, options?: CallOptions) => Promise<ListNodesResponse>
  GetNode: (req: GetNodeRequest, options?: CallOptions) => Promise<NodeInfo>
  SubmitJob: (req: SubmitJobRequest, options?: CallOptions) => Promise<SubmitJobResponse>
  GetJob: (req: JobIdRequest, options?: CallOptions) => Promise<JobInfo>
  ListJobs: (req?: ListJobsRequest, options?: CallOptions) => Promise<ListJobsResponse>
  ListHistory: (req?: ListHistoryRequest, options?: CallOptions) => Promise<ListHistoryResponse>
  CancelJob: (req: JobIdRequest, options?: CallOptions) => Promise<JobInfo>
  ReleaseJob: (req: JobIdRequest, options?: CallOptions) => Promise<JobInfo>
  HoldJob: (req: JobIdRequest, options?: CallOptions) => Promise<JobInfo>
  CheckpointJob: (req: JobIdRequest, options?: CallOptions) => Promise<JobInfo>
  ResizeJob: (req: ResizeJobRequest, options?: CallOptions) => Promise<JobInfo>
  RequeueJob: (req: JobIdRequest, options?: CallOptions) => Promise<JobInfo>
  GetJobResult: (req: JobIdRequest, options?: CallOptions) => Promise<GetJobResultResponse>
  ApplyPolicy: (req: ApplyPolicyRequest, options?: CallOptions) => Promise<ApplyPolicyResponse>
  /** `req.node`: the policy that node runs (its group's broker answers; a parent asks its child groups). */
  GetPolicy: (options?: CallOptions, req?: GetPolicyRequest) => Promise<GetPolicyResponse>
  GetJobLogs: (req: GetJobLogsRequest, options?: CallOptions) => Promise<GetJobLogsResponse>
  SubmitJobs: (req: SubmitJobsRequest, options?: CallOptions) => Promise<SubmitJobsResponse>
  /** Without a `timeoutMs` call option, the call's own timeout is the wait plus a margin. */
  WaitJob: (req: WaitJobRequest, options?: CallOptions) => Promise<JobInfo>
  WaitJobs: (req: WaitJobsRequest, options?: CallOptions) => Promise<WaitJobsResponse>
  PutData: (req: PutDataRequest, options?: CallOptions) => Promise<PutDataResponse>
  GetData: (req: GetDataRequest, options?: CallOptions) => Promise<GetDataResponse>
  ListData: (req?: ListDataRequest, options?: CallOptions) => Promise<ListDataResponse>
  RemoveData: (req: DataIdRequest, options?: CallOptions) => Promise<RemoveDataResponse>
  Reserve: (req: ReserveRequest, options?: CallOptions) => Promise<ReserveResponse>
  MigrateRank: (req: MigrateRankRequest, options?: CallOptions) => Promise<JobInfo>
  DrainNode: (req: NodeRequest, options?: CallOptions) => Promise<DrainNodeResponse>
  ResumeNode: (req: NodeRequest, options?: CallOptions) => Promise<DrainNodeResponse>
}
