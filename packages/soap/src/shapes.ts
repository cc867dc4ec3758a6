import { JobState } from '@mvm/core'
import type { ServiceName } from './types.js'

/**
 * The XSD of each WSDL restated as data, in schema order. node-soap neither orders elements
 * by the schema nor types what it parses (one element vs an array, numbers as strings), so
 * codec.ts uses these shapes both ways. test/contract.test.ts checks them against the files.
 */
export type Scalar = 'string' | 'int' | 'long' | 'double' | 'bool' | 'dateTime' | 'base64' | 'labels'
export interface Field { kind: Scalar | Shape, many?: boolean, opt?: boolean, values?: readonly string[] }
export interface Shape { [name: string]: Field }

const str: Field = { kind: 'string' }
const optStr: Field = { kind: 'string', opt: true }
const int: Field = { kind: 'int' }
const dbl: Field = { kind: 'double' }
const bool: Field = { kind: 'bool' }
const date: Field = { kind: 'dateTime' }
const strs: Field = { kind: 'string', many: true }
const labels: Field = { kind: 'labels' }
/** xs:long: byte sizes and offsets of stored files, which pass 2 GiB (xs:int is 32-bit in Java). */
const long: Field = { kind: 'long' }
const bytes: Field = { kind: 'base64' }

const JOB_STATES: readonly string[] = Object.values(JobState)

/** A node's data-layer counters (xs:long: byte totals pass 2 GiB). */
const DataCountersShape: Shape = {
  bytesIn: long,
  bytesOut: long,
  chunksIn: long,
  chunksOut: long,
  hits: long,
  misses: long,
  dedupChunks: long,
  zeroChunks: long,
  corrupt: long,
  evictions: long,
  storedBytes: long,
  maxBytes: long,
  envBuilds: long,
  envReused: long,
  envWritten: long
}

export const NodeInfoShape: Shape = {
  peerId: str,
  group: str,
  roles: strs,
  state: { kind: 'string', values: ['up', 'down', 'left'] },
  load: dbl,
  totalSlots: int,
  freeSlots: int,
  freeMemoryMB: int,
  processes: int,
  queueDepth: int,
  lastSeen: date,
  labels,
  soapUrl: optStr,
  drain: { kind: 'string', opt: true, values: ['draining', 'drained'] },
  data: { kind: DataCountersShape, opt: true }
}

const BrokerInfoShape: Shape = {
  group: str, peerId: str, multiaddrs: strs, soapUrl: str, parentGroup: optStr, registeredAt: date
}

const NodeStatusShape: Shape = {
  peerId: str,
  roles: strs,
  group: str,
  state: str,
  load: dbl,
  totalSlots: int,
  freeSlots: int,
  totalMemoryMB: int,
  freeMemoryMB: int,
  processes: int,
  uptimeSec: dbl,
  soapUrl: str,
  multiaddrs: strs,
  labels
}

const ProcessInfoShape: Shape = { jobId: str, rank: int, pid: int, state: str, startedAt: date }

const JobInfoShape: Shape = {
  jobId: str,
  parentId: optStr,
  name: str,
  state: { kind: 'string', values: JOB_STATES },
  priority: int,
  size: int,
  owner: str,
  submittedAt: date,
  startedAt: { kind: 'dateTime', opt: true },
  finishedAt: { kind: 'dateTime', opt: true },
  reason: optStr,
  placement: { kind: { rank: int, peerId: str }, many: true },
  ranksStarted: int,
  ranksFinished: int,
  params: { kind: { name: str, value: str }, many: true },
  childJobIds: strs,
  waitReason: optStr,
  group: optStr
}

const optDbl: Field = { kind: 'double', opt: true }
const RankResultShape: Shape = {
  rank: int, peerId: str, exitCode: int, resultJson: optStr, error: optStr, startedAt: date, finishedAt: date,
  cpuSec: optDbl, maxRssMB: optDbl, exitReason: optStr
}

const JobAccountingShape: Shape = {
  jobId: str,
  parentId: optStr,
  name: str,
  owner: str,
  state: { kind: 'string', values: JOB_STATES },
  size: int,
  restarts: int,
  submittedAt: date,
  startedAt: { kind: 'dateTime', opt: true },
  finishedAt: date,
  reason: optStr,
  queuedSec: dbl,
  wallSec: dbl,
  cpuSec: dbl,
  maxRssMB: dbl,
  ranks: { kind: RankResultShape, many: true }
}

const jobId: Shape = { jobId: str }
/**
 * Who asks, on every Broker request but SubmitJob (whose `owner` says it): the subject the
 * policy's `security.subjects` grants rights to. Absent, the broker acts for "anonymous".
 */
const subject = optStr
const brokerJob: Shape = { jobId: str, subject }

const optInt: Field = { kind: 'int', opt: true }
const logsCursor: Shape = { outOffset: optInt, errOffset: optInt }
const logsRequest: Shape = { jobId: str, rank: optInt, maxBytes: optInt, ...logsCursor }
const brokerLogsRequest: Shape = { ...logsRequest, subject }
const logsEnds: Shape = { outEnd: optInt, errEnd: optInt }
const RankLogShape: Shape = { rank: int, stdout: str, stderr: str, truncated: bool, ...logsEnds }
const JobRankLogShape: Shape = { rank: int, peerId: str, stdout: str, stderr: str, truncated: bool, error: optStr, ...logsEnds }

const JobSubmissionShape: Shape = {
  profileYaml: str,
  profileName: optStr,
  params: { kind: { name: str, value: str }, many: true },
  bundle: { kind: { path: str, content: bytes }, many: true },
  owner: optStr,
  dependsOn: strs,
  inputs: { kind: { name: str, id: str }, many: true },
  viaGroups: strs
}
const JobOutputShape: Shape = { name: str, id: str, size: long, rank: int }
const DataEntryShape: Shape = {
  id: str, name: str, size: long, storedBytes: long, hits: int, pins: strs, createdAt: date, lastUsedAt: date
}
const SubmittedShape: Shape = { jobId: str, childJobIds: strs }
const DrainShape: Shape = { peerId: str, state: { kind: 'string', values: ['draining', 'drained', 'up'] }, moving: strs, staying: strs }

export interface OperationShape { input: Shape, output: Shape }

export const operations: Record<ServiceName, Record<string, OperationShape>> = {
  Bootstrap: {
    GetBrokers: { input: { group: optStr }, output: { brokers: { kind: BrokerInfoShape, many: true } } },
    RegisterSuperPeer: {
      input: { group: str, peerId: str, multiaddrs: strs, soapUrl: str, parentGroup: optStr },
      output: { accepted: bool, leaseSec: int }
    },
    GetResources: {
      input: { group: optStr, labels, minFreeSlots: { kind: 'int', opt: true } },
      output: { nodes: { kind: NodeInfoShape, many: true } }
    }
  },
  Node: {
    GetStatus: { input: {}, output: NodeStatusShape },
    Awaken: { input: jobId, output: { ok: bool } },
    Terminate: { input: jobId, output: { ok: bool, stopped: int } },
    ListProcesses: { input: {}, output: { processes: { kind: ProcessInfoShape, many: true } } },
    GetLogs: { input: logsRequest, output: { logs: { kind: RankLogShape, many: true } } }
  },
  Broker: {
    ListNodes: { input: { group: optStr, subject }, output: { nodes: { kind: NodeInfoShape, many: true } } },
    GetNode: { input: { peerId: str }, output: NodeInfoShape },
    SubmitJob: { input: JobSubmissionShape, output: SubmittedShape },
    GetJob: { input: brokerJob, output: JobInfoShape },
    ListJobs: {
      input: { state: { kind: 'string', opt: true, values: JOB_STATES }, limit: { kind: 'int', opt: true }, subject },
      output: { jobs: { kind: JobInfoShape, many: true } }
    },
    ListHistory: {
      input: {
        owner: optStr,
        state: { kind: 'string', opt: true, values: JOB_STATES },
        name: optStr,
        since: { kind: 'dateTime', opt: true },
        until: { kind: 'dateTime', opt: true },
        limit: { kind: 'int', opt: true },
        subject
      },
      output: { jobs: { kind: JobAccountingShape, many: true } }
    },
    CancelJob: { input: brokerJob, output: JobInfoShape },
    ReleaseJob: { input: brokerJob, output: JobInfoShape },
    HoldJob: { input: brokerJob, output: JobInfoShape },
    CheckpointJob: { input: brokerJob, output: JobInfoShape },
    ResizeJob: { input: { jobId: str, size: int, subject }, output: JobInfoShape },
    RequeueJob: { input: brokerJob, output: JobInfoShape },
    GetJobResult: {
      input: brokerJob,
      output: {
        jobId: str,
        state: { kind: 'string', values: JOB_STATES },
        resultJson: optStr,
        reason: optStr,
        ranks: { kind: RankResultShape, many: true },
        params: { kind: { name: str, value: str }, many: true },
        outputs: { kind: JobOutputShape, many: true }
      }
    },
    ApplyPolicy: {
      input: { policyYaml: optStr, subject, dryRun: { kind: 'bool', opt: true }, force: { kind: 'bool', opt: true }, previous: { kind: 'bool', opt: true }, version: optInt },
      output: { applied: bool, warnings: strs, changes: strs, lostRights: strs }
    },
    GetPolicy: { input: { subject, node: optStr, history: { kind: 'bool', opt: true } }, output: { policyJson: str } },
    GetJobLogs: { input: brokerLogsRequest, output: { logs: { kind: JobRankLogShape, many: true } } },
    SubmitJobs: { input: { jobs: { kind: JobSubmissionShape, many: true } }, output: { submitted: { kind: SubmittedShape, many: true } } },
    WaitJob: { input: { jobId: str, timeoutMs: optInt, subject }, output: JobInfoShape },
    WaitJobs: { input: { jobIds: strs, timeoutMs: optInt, subject }, output: { jobs: { kind: JobInfoShape, many: true } } },
    PutData: { input: { name: str, content: bytes, subject }, output: { id: str, size: long } },
    GetData: {
      input: { id: str, offset: { kind: 'long', opt: true }, length: optInt, subject },
      output: { id: str, size: long, offset: long, content: bytes }
    },
    ListData: { input: { subject }, output: { files: { kind: DataEntryShape, many: true }, storedBytes: long, maxBytes: long } },
    RemoveData: { input: { id: str, subject }, output: { removed: bool } },
    Reserve: { input: { name: str, nodes: strs, slots: optInt, start: optStr, durationSec: int, owners: strs, subject }, output: { name: str, from: str, to: str } },
    MigrateRank: { input: { jobId: str, rank: int, node: str, subject }, output: JobInfoShape },
    DrainNode: { input: { node: str, subject }, output: DrainShape },
    ResumeNode: { input: { node: str, subject }, output: DrainShape }
  }
}

/**
 * The body element of an operation's request. It is `<Op>Request`, not the operation's name:
 * JAX-WS then binds each operation to one request and one response class (`GetJobResponse
 * getJob(GetJobRequest)`) instead of unwrapping the fields into Holder<> arguments.
 */
export function requestElement (op: string): string {
  return `${op}Request`
}

/** The operation a request body element names, or undefined if it names none of `ops`. */
export function operationOfElement (ops: Record<string, OperationShape>, element: string): string | undefined {
  if (!element.endsWith('Request')) return undefined
  const op = element.slice(0, -'Request'.length)
  return Object.hasOwn(ops, op) ? op : undefined
}

export const namespaces: Record<ServiceName, string> = {
  Bootstrap: 'urn:mvm:bootstrap:v1',
  Node: 'urn:mvm:node:v1',
  Broker: 'urn:mvm:broker:v1'
}
