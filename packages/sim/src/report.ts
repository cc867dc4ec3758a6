import type { SimReport } from './run.js'
import type { Spread } from './stats.js'

const n0 = (x: number): string => Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-'
const n2 = (x: number): string => Number.isFinite(x) ? x.toFixed(2) : '-'
const sp = (s: Spread, f: (x: number) => string): string => `mean ${f(s.mean)}, p99 ${f(s.p99)}, max ${f(s.max)}`

/** The report as the lines `mvm sim` prints. */
export function formatReport (r: SimReport): string[] {
  const s = r.steady
  const out = [
    `community: ${n0(r.peers)} peers in ${r.groups} groups; super-peer tree depth ${r.depth}, at most ${r.maxChildSuperPeers} child super-peers each; heartbeat ${r.heartbeatMs} ms`,
    `start: super-peers ${n0(r.startMs.services)} ms, peers ${n0(r.startMs.peers)} ms`,
    `membership convergence: ${n0(r.convergenceMs)} ms (every group's view complete); ${n0(r.treeConvergenceMs)} ms until the root sees all ${n0(r.peers + r.groups - 1)} nodes`,
    `control traffic at rest (${n0(s.windowMs)} ms window; messages and bytes sent + received):`,
    `  per peer:       msgs/s ${sp(s.perPeer.msgsPerSec, n2)}; bytes/s ${sp(s.perPeer.bytesPerSec, n0)}`,
    `  per super-peer: msgs/s ${sp(s.perSuperPeer.msgsPerSec, n2)}; bytes/s ${sp(s.perSuperPeer.bytesPerSec, n0)}`,
    `  root super-peer: ${n2(s.root.msgsPerSec)} msgs/s, ${n0(s.root.bytesPerSec)} bytes/s`,
    `  total: ${n0(s.totalMsgsPerSec)} msgs/s, ${n0(s.totalBytesPerSec)} bytes/s (${n2(s.totalMsgsPerSec / Math.max(1, r.peers))} msgs/s per peer)`,
    `  bootstrap: ${n2(s.bootstrapCallsPerSec)} SOAP calls/s at rest; since start ${Object.entries(r.bootstrapCalls).map(([k, v]) => `${k} ${n0(v)}`).join(', ')}`
  ]
  if (r.jobs !== undefined) {
    const j = r.jobs
    out.push(`jobs: ${n0(j.submitted)} submitted, ${n0(j.succeeded)} succeeded, ${n0(j.failed)} failed, ${n0(j.other)} cancelled; ${n0(j.starts)} starts in ${n0(j.wallMs)} ms (${n0(j.jobsPerSec)} jobs/s)`)
    if (j.unfinished > 0) out.push(`  NOT FINISHED within the timeout: ${n0(j.unfinished)} jobs (${Object.entries(j.unfinishedStates).map(([k, v]) => `${k} ${n0(v)}`).join(', ')})`)
    out.push(`scheduling latency (queued → running): p50 ${n0(j.latencyMs.p50)} ms, p90 ${n0(j.latencyMs.p90)} ms, p99 ${n0(j.latencyMs.p99)} ms, max ${n0(j.latencyMs.max)} ms`)
  }
  if (r.churn !== undefined) {
    const c = r.churn
    out.push(`churn: ${c.left} left, ${c.crashed} crashed, ${c.joined} joined; failure detection ${sp(c.detectionMs, n0)} ms (policy bound ${n0(c.detectionBoundMs)} ms), ${c.undetected} undetected; largest group ${c.maxGroupSize}`)
  }
  out.push(`memory: RSS ${n0(r.memory.rssMB)} MB, heap ${n0(r.memory.heapUsedMB)} MB, ~${n0(r.memory.perNodeKB)} KB per node`)
  return out
}
