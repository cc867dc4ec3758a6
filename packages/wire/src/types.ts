/**
 * TypeScript shapes of the messages in proto/control.proto and proto/queue.proto.
 * Field names are the proto names in camelCase (protobufjs' default); uint64 fields are
 * plain numbers (at most Number.MAX_SAFE_INTEGER). test/contract.test.ts checks these
 * against the .proto files so the two cannot drift.
 */

export interface Hello {
  peerId: string
  roles: string[]
  group: string
  softwareVersion: string
  domainProof: Uint8Array
  nonce: Uint8Array
}

export interface Capacity {
  slots: number
  memoryMb: number
}

export interface Join {
  group: string
  roles: string[]
  labels: Record<string, string>
  capacity: Capacity
  soapUrl: string
  multiaddrs: string[]
  domainProof: Uint8Array
}

export interface JoinAck {
  accepted: boolean
  reason: string
  heartbeatIntervalMs: number
  missedHeartbeats: number
}

export interface Leave { reason: string }

export interface MonitoringReport {
  load: number
  freeSlots: number
  totalSlots: number
  freeMemoryMb: number
  processes: number
  queueDepth: number
  timestampMs: number
  /** Cumulative traffic of the ranks running on the node (heartbeats only; decoded as `[]` when absent). */
  ports?: PortTraffic[]
  /** The node's data-layer counters (absent on a node without a data store, and in child reports). */
  data?: DataCounters
}

/** Cumulative transfer and store counters of one node's data layer (see control.proto). */
export interface DataCounters {
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
  envBuilds: number
  envReused: number
  envWritten: number
}

export interface PortTraffic { jobId: string, rank: number, port: string, items: number, bytes: number }

export interface Heartbeat { report: MonitoringReport }

export interface Awaken { jobId: string }

export interface BundleFile {
  path: string
  content: Uint8Array
}

export interface Instantiate {
  jobId: string
  /** UTF-8 JSON of the instance spec. */
  spec: Uint8Array
  bundle: BundleFile[]
}

export interface InstantiateAck {
  jobId: string
  ranks: number[]
}

export interface Terminate {
  jobId: string
  reason: string
}

export const RankState = {
  STARTING: 'STARTING',
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED'
} as const
export type RankState = (typeof RankState)[keyof typeof RankState]

export interface JobReport {
  jobId: string
  rank: number
  state: RankState
  exitCode: number
  resultJson: string
  error: string
  startedAtMs: number
  finishedAtMs: number
  cpuSec: number
  maxRssMb: number
  exitReason: string
  outputs?: OutputFile[]
}

export interface OutputFile { name: string, id: string, size: number }

export interface PolicyUpdate { policyJson: string }

export interface NodeSummary {
  peerId: string
  roles: string[]
  soapUrl: string
  report: MonitoringReport
}

export interface ChildReport {
  group: string
  superPeerId: string
  nodes: NodeSummary[]
  totals: MonitoringReport
  /** 0 from an older sender (nodes is everything); else numbered per control channel from 1. */
  seq: number
  /** nodes is the whole subtree (else only what changed since seq - 1). */
  full: boolean
  /** Peer ids gone since seq - 1 (deltas only). */
  removed: string[]
  /** The subtree's size after this report. */
  count: number
}

/** Parent -> child super-peer: full report `seq` applied, or (resync) send a full one. */
export interface ChildReportAck {
  group: string
  seq: number
  resync: boolean
}

/** `Error` in the proto; named so it does not shadow the global Error. */
export interface ErrorBody {
  code: string
  message: string
  dataJson: string
  retryable: boolean
}

/** A rank's latest saved state; `seq` orders saves of one rank. */
export interface Checkpoint {
  jobId: string
  rank: number
  stateJson: string
  seq: number
}

/** Asks for a coordinated cut of a job at its next checkpoint point. */
export interface CutRequest {
  jobId: string
}

export type Ack = Record<never, never>

/** Every control body, by its `type` (the oneof field name in camelCase). */
export interface ControlBodyMap {
  hello: Hello
  join: Join
  joinAck: JoinAck
  leave: Leave
  heartbeat: Heartbeat
  awaken: Awaken
  instantiate: Instantiate
  instantiateAck: InstantiateAck
  terminate: Terminate
  jobReport: JobReport
  policyUpdate: PolicyUpdate
  childReport: ChildReport
  childReportAck: ChildReportAck
  error: ErrorBody
  ack: Ack
  checkpoint: Checkpoint
  cutRequest: CutRequest
}

export type ControlType = keyof ControlBodyMap

/** A control body as received: `type` plus every field of that message (defaults filled). */
export type ControlBody = { [K in ControlType]: { type: K } & ControlBodyMap[K] }[ControlType]

/** Deep partial of a message: what a sender must give (omitted fields get proto3 defaults). */
export type MessageInit<T> = T extends Uint8Array ? T
  : T extends Array<infer U> ? Array<MessageInit<U>>
    : T extends object ? { [K in keyof T]?: MessageInit<T[K]> }
      : T

/** A control body to send: `type` plus any fields; missing ones take proto3 defaults. */
export type ControlBodyInit = { [K in ControlType]: { type: K } & MessageInit<ControlBodyMap[K]> }[ControlType]

/** The body type for a given `type`. */
export type ControlBodyOf<K extends ControlType> = Extract<ControlBody, { type: K }>

export interface ControlEnvelope {
  version: number
  id: number
  replyTo: number
  body: ControlBody
}

export interface ControlEnvelopeInit {
  version?: number
  id?: number
  replyTo?: number
  body: ControlBodyInit
}

export const FrameKind = {
  DATA: 'DATA',
  CREDIT: 'CREDIT',
  EOF: 'EOF',
  ERROR: 'ERROR'
} as const
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind]

export interface QueueHello {
  version: number
  jobId: string
}

export interface QueueFrame {
  jobId: string
  fromRank: number
  toRank: number
  port: string
  seq: number
  kind: FrameKind
  payload: Uint8Array
  credits: number
}

/** What travels on a queue stream: one hello first, then frames. */
export type QueueMessage = ({ type: 'hello' } & QueueHello) | ({ type: 'frame' } & QueueFrame)
export type QueueMessageInit = ({ type: 'hello' } & Partial<QueueHello>) | ({ type: 'frame' } & Partial<QueueFrame>)
