import { Limits } from './constants.js'
import { bool, bytes, double, enumOf, i32, list, map, msg, str, u32, u64, type MessageSpec } from './fields.js'
import { RankState } from './types.js'
import type { ControlType } from './types.js'

/** Bounds for every field of every control message (checked on send and on receipt). */

const ID = /^[\w.:@/+=-]+$/
const id = (required = false): ReturnType<typeof str> => str(Limits.idChars, { required, pattern: ID })
const text = (): ReturnType<typeof str> => str(Limits.textChars)
const json = (): ReturnType<typeof str> => str(Limits.instantiateFrameBytes, { json: true })

function safePath (p: string): string | undefined {
  if (p.startsWith('/') || p.includes('\\') || p.includes('\0')) return 'must be a relative POSIX path'
  if (p.split('/').some((s) => s === '..' || s === '')) return 'must not contain "..", "//" or a trailing "/"'
  return undefined
}

function httpUrl (s: string): string | undefined {
  try {
    const u = new URL(s)
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'must be an http(s) URL'
  } catch { return 'is not a valid URL' }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
function jsonObjectBytes (b: Uint8Array): string | undefined {
  try {
    const v = JSON.parse(utf8.decode(b)) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : 'must be a JSON object'
  } catch (e) { return `is not UTF-8 JSON (${(e as Error).message})` }
}

export const MonitoringReportSpec: MessageSpec = {
  load: double(0),
  freeSlots: u32(),
  totalSlots: u32(),
  freeMemoryMb: u32(),
  processes: u32(),
  queueDepth: u32(),
  timestampMs: u64(),
  ports: list(msg('PortTraffic', { jobId: id(true), rank: u32(), port: id(true), items: u64(), bytes: u64() }), Limits.portTraffic),
  data: msg('DataCounters', {
    bytesIn: u64(),
    bytesOut: u64(),
    chunksIn: u64(),
    chunksOut: u64(),
    hits: u64(),
    misses: u64(),
    dedupChunks: u64(),
    zeroChunks: u64(),
    corrupt: u64(),
    evictions: u64(),
    storedBytes: u64(),
    maxBytes: u64(),
    envBuilds: u64(),
    envReused: u64(),
    envWritten: u64()
  })
}

const NodeSummarySpec: MessageSpec = {
  peerId: id(true),
  roles: list(id(), Limits.roles),
  soapUrl: str(Limits.textChars, { check: httpUrl }),
  report: msg('MonitoringReport', MonitoringReportSpec)
}

export const ControlSpecs: Record<ControlType, MessageSpec> = {
  hello: {
    peerId: id(true),
    roles: list(id(), Limits.roles),
    group: id(),
    softwareVersion: text(),
    domainProof: bytes(Limits.domainProofBytes),
    nonce: bytes(Limits.nonceBytes)
  },
  join: {
    group: id(true),
    roles: list(id(), Limits.roles),
    labels: map(id(true), text(), Limits.labels),
    capacity: msg('Capacity', { slots: u32(), memoryMb: u32() }),
    soapUrl: str(Limits.textChars, { check: httpUrl }),
    multiaddrs: list(str(Limits.textChars, { required: true, pattern: /^\/\S+$/ }), Limits.multiaddrs),
    domainProof: bytes(Limits.domainProofBytes)
  },
  joinAck: { accepted: bool(), reason: text(), heartbeatIntervalMs: u32(), missedHeartbeats: u32() },
  leave: { reason: text() },
  heartbeat: { report: msg('MonitoringReport', MonitoringReportSpec, true) },
  awaken: { jobId: id(true) },
  instantiate: {
    jobId: id(true),
    spec: bytes(Limits.instantiateFrameBytes, { required: true, check: jsonObjectBytes }),
    bundle: list(msg('BundleFile', {
      path: str(Limits.textChars, { required: true, check: safePath }),
      content: bytes(Limits.instantiateFrameBytes)
    }), Limits.bundleFiles)
  },
  instantiateAck: { jobId: id(true), ranks: list(u32(), Limits.ranks) },
  terminate: { jobId: id(true), reason: text() },
  jobReport: {
    jobId: id(true),
    rank: u32(),
    state: enumOf('RankState', Object.values(RankState)),
    exitCode: i32(),
    resultJson: json(),
    error: text(),
    startedAtMs: u64(),
    finishedAtMs: u64(),
    cpuSec: double(0),
    maxRssMb: double(0),
    exitReason: id(),
    outputs: list(msg('OutputFile', {
      name: str(Limits.textChars, { required: true, check: safePath }),
      id: str(64, { required: true, pattern: /^[0-9a-f]{64}$/ }),
      size: u64()
    }), Limits.outputFiles)
  },
  policyUpdate: { policyJson: str(Limits.controlFrameBytes, { required: true, json: true }) },
  childReport: {
    group: id(true),
    superPeerId: id(true),
    nodes: list(msg('NodeSummary', NodeSummarySpec), Limits.childNodes),
    totals: msg('MonitoringReport', MonitoringReportSpec),
    seq: u64(),
    full: bool(),
    removed: list(id(true), Limits.childNodes),
    count: u32()
  },
  childReportAck: { group: id(true), seq: u64(), resync: bool() },
  error: {
    code: str(Limits.idChars, { required: true, pattern: /^E_[A-Z0-9_]+$/ }),
    message: text(),
    dataJson: json(),
    retryable: bool()
  },
  ack: {},
  checkpoint: {
    jobId: id(true),
    rank: u32(),
    stateJson: str(Limits.checkpointStateBytes, { required: true, json: true }),
    seq: u64()
  },
  cutRequest: { jobId: id(true) }
}

export const CONTROL_TYPES = Object.keys(ControlSpecs) as ControlType[]
