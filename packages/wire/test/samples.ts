import type { ControlBodyMap, ControlType, MonitoringReport, QueueFrame, QueueHello } from '@mvm/wire'

/**
 * One fully populated value of every message, typed with the TypeScript interfaces: the
 * compiler (root `tsc -p tsconfig.json`) refuses a missing or extra field, and the contract
 * test compares these keys and value types with the .proto files.
 */

const report: MonitoringReport = { load: 1.5, freeSlots: 3, totalSlots: 4, freeMemoryMb: 2048, processes: 7, queueDepth: 2, timestampMs: 1_700_000_000_123, ports: [{ jobId: 'j-1', rank: 0, port: 'next', items: 12, bytes: 3456 }], data: { bytesIn: 5_000_000_000, bytesOut: 2, chunksIn: 3, chunksOut: 4, hits: 5, misses: 6, dedupChunks: 7, zeroChunks: 8, corrupt: 9, evictions: 10, storedBytes: 11, maxBytes: 4_294_967_296, envBuilds: 12, envReused: 13, envWritten: 14 } }

export const controlSamples: { [K in ControlType]: ControlBodyMap[K] } = {
  hello: { peerId: '12D3KooWExample', roles: ['peer', 'super-peer'], group: 'g1', softwareVersion: '0.1.0', domainProof: new Uint8Array([1, 2, 3]), nonce: new Uint8Array(16).fill(7) },
  join: {
    group: 'g1',
    roles: ['peer'],
    labels: { zone: 'lab-a', gpu: 'none' },
    capacity: { slots: 8, memoryMb: 16_384 },
    soapUrl: 'http://127.0.0.1:8080/mvm/node',
    multiaddrs: ['/ip4/127.0.0.1/tcp/4001'],
    domainProof: new Uint8Array([9, 9])
  },
  joinAck: { accepted: true, reason: 'welcome', heartbeatIntervalMs: 2000, missedHeartbeats: 3 },
  leave: { reason: 'shutting down' },
  heartbeat: { report },
  awaken: { jobId: 'job-42' },
  instantiate: {
    jobId: 'job-42',
    spec: new TextEncoder().encode(JSON.stringify({ ranks: [0, 1], ports: ['next'] })),
    bundle: [{ path: 'src/main.ts', content: new TextEncoder().encode('export default 1\n') }, { path: 'README', content: new Uint8Array(0) }]
  },
  instantiateAck: { jobId: 'job-42', ranks: [0, 1, 5] },
  terminate: { jobId: 'job-42', reason: 'cancelled by user' },
  jobReport: { jobId: 'job-42', rank: 3, state: 'FAILED', exitCode: -11, resultJson: '{"sum":10}', error: 'segfault', startedAtMs: 1_700_000_000_000, finishedAtMs: 1_700_000_005_000, cpuSec: 4.25, maxRssMb: 131.5, exitReason: 'signal', outputs: [{ name: 'out/counts.json', id: 'a'.repeat(64), size: 1234 }] },
  policyUpdate: { policyJson: '{"apiVersion":"mvm/v1","kind":"NodePolicy"}' },
  childReport: {
    group: 'g2',
    superPeerId: '12D3KooWSuper',
    nodes: [{ peerId: '12D3KooWA', roles: ['peer'], soapUrl: 'https://a.example/mvm', report }],
    totals: { ...report, freeSlots: 30, totalSlots: 40 },
    seq: 7,
    full: false,
    removed: ['12D3KooWGone'],
    count: 2
  },
  error: { code: 'E_CAPACITY', message: 'no free slots', dataJson: '{"need":4}', retryable: true },
  ack: {},
  checkpoint: { jobId: 'job-42', rank: 1, stateJson: '{"i":7}', seq: 7 },
  cutRequest: { jobId: 'job-42' },
  childReportAck: { group: 'g2', seq: 12, resync: true }
}

export const queueHelloSample: QueueHello = { version: 1, jobId: 'job-42' }
export const queueFrameSample: QueueFrame = { jobId: 'job-42', fromRank: 1, toRank: 2, port: 'next', seq: 2 ** 40 + 3, kind: 'DATA', payload: new Uint8Array([0, 255, 3]), credits: 16 }
