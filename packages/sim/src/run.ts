import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ControlTraffic } from '@mvm/node'
import type { EffectivePolicy } from '@mvm/model'
import { roomyYoungGeneration } from './heap.js'
import { Community, waitFor, type SimNode } from './community.js'
import { latencySummary, runJobs, type JobKind } from './jobs.js'
import { spread, type Spread } from './stats.js'
import { churn, type ChurnReport } from './churn.js'

export interface SimOptions {
  peers: number
  groups: number
  /** Most child super-peers per super-peer. */
  fanout: number
  heartbeatMs: number
  missedHeartbeats: number
  slots: number
  jobs: number
  mix: JobKind[]
  /** Percent of the peers that leave, crash or join per minute while jobs run (0: none). */
  churnPerMin: number
  /** How long the steady-state traffic is measured (default three heartbeat intervals). */
  windowMs?: number
  /** Bound on the whole run's waiting steps (convergence, jobs). */
  timeoutMs: number
  dataDir?: string
  /** The super-peers' policy (e.g. `faultTolerance.poisonAfter: 0` under deliberate churn). */
  policy?: EffectivePolicy
  signal?: AbortSignal
  log?: (line: string) => void
}

export interface TrafficRates { msgsPerSec: Spread, bytesPerSec: Spread }

export interface SimReport {
  peers: number
  groups: number
  fanout: number
  depth: number
  maxChildSuperPeers: number
  heartbeatMs: number
  /** Processes the community ran in (`--workers`); absent: one. */
  workers?: number
  startMs: { services: number, peers: number }
  /** From the first peer starting to every group's view holding all its members up. */
  convergenceMs: number
  /** Until the root super-peer sees every node of the tree through the child reports. */
  treeConvergenceMs: number
  steady: {
    windowMs: number
    perPeer: TrafficRates
    perSuperPeer: TrafficRates
    root: { msgsPerSec: number, bytesPerSec: number }
    totalMsgsPerSec: number
    totalBytesPerSec: number
    bootstrapCallsPerSec: number
  }
  bootstrapCalls: Record<string, number>
  jobs?: {
    submitted: number
    succeeded: number
    failed: number
    other: number
    /** Not terminal when the wait (`timeoutMs`) ran out, by broker state. */
    unfinished: number
    unfinishedStates: Record<string, number>
    starts: number
    wallMs: number
    latencyMs: { p50: number, p90: number, p99: number, max: number }
    jobsPerSec: number
  }
  churn?: ChurnReport
  memory: { rssMB: number, heapUsedMB: number, perNodeKB: number }
}

/** Builds the community, measures it at rest, runs the jobs (under churn if asked), stops it. */
export async function runSim (o: SimOptions): Promise<SimReport> {
  roomyYoungGeneration()
  const log = o.log ?? (() => {})
  const dataDir = o.dataDir ?? await mkdtemp(join(tmpdir(), 'mvm-sim-'))
  const rss0 = process.memoryUsage().rss
  const c = new Community({ ...(o.policy !== undefined ? { policy: o.policy } : {}), dataDir, peers: o.peers, groups: o.groups, fanout: o.fanout, heartbeatMs: o.heartbeatMs, missedHeartbeats: o.missedHeartbeats, slots: o.slots })
  try {
    let t = Date.now()
    await c.startServices(o.timeoutMs)
    const servicesMs = Date.now() - t
    log(`bootstrap and ${o.groups} super-peers up in ${servicesMs} ms (tree depth ${c.tree.depth}, at most ${c.tree.maxChildren} child super-peers each)`)
    t = Date.now()
    const t0 = t
    const step = Math.max(100, Math.ceil(o.peers / 10))
    // each poll copies every group's view: 10 times a second at 10,000 peers was a few % of the CPU
    const pollMs = Math.min(1000, Math.max(100, Math.round(o.peers / 10)))
    // peers come in waves, the next once most of the last one joined: thousands of nodes starting
    // in one process at once would starve the bootstrap's answers and the joins would time out
    for (let added = 0; added < o.peers; added += step) {
      await c.addPeers(Math.min(step, o.peers - added))
      const target = Math.floor(0.9 * sum(c.expectedByGroup()))
      await waitFor(() => up(c) >= target, Math.min(o.timeoutMs, 120_000), 'a wave of peers to join', o.signal, pollMs).catch(() => {})
      log(`  ${Math.min(o.peers, added + step)} peers started (${Math.round((Date.now() - t0) / 1000)} s, ${up(c)} joined)`)
    }
    const peersMs = Date.now() - t
    const want = sum(c.expectedByGroup())
    let said = Date.now()
    await waitFor(() => {
      const n = up(c)
      if (Date.now() - said > 10_000) { said = Date.now(); log(`  ${n} of ${want} members up (${Math.round((Date.now() - t0) / 1000)} s)`) }
      return n >= want
    }, o.timeoutMs, `all ${want} members to be up in their groups`, o.signal, pollMs)
    const convergenceMs = Date.now() - t0
    log(`membership converged in ${convergenceMs} ms`)
    const everyone = o.peers + o.groups - 1
    await waitFor(() => c.rootSees() >= everyone, o.timeoutMs, `the root to see all ${everyone} nodes`, o.signal, pollMs)
    const treeConvergenceMs = Date.now() - t0

    const windowMs = o.windowMs ?? 3 * o.heartbeatMs
    log(`measuring control traffic at rest for ${windowMs} ms`)
    const calls0 = await c.bootstrapCalls()
    const before = c.traffic()
    const w0 = Date.now()
    await new Promise((resolve) => setTimeout(resolve, windowMs))
    const after = c.traffic()
    const secs = (Date.now() - w0) / 1000
    const calls1 = await c.bootstrapCalls()
    const rate = (n: SimNode): { m: number, b: number } => {
      const a = after.get(n); const b = before.get(n)
      if (a === undefined || b === undefined) return { m: 0, b: 0 }
      return { m: (moved(a).m - moved(b).m) / secs, b: (moved(a).b - moved(b).b) / secs }
    }
    const peerRates = c.peers.map(rate)
    const spRates = c.superPeers.map(rate)
    const all = c.all().map(rate)
    const report: SimReport = {
      peers: o.peers, groups: o.groups, fanout: o.fanout, depth: c.tree.depth, maxChildSuperPeers: c.tree.maxChildren, heartbeatMs: o.heartbeatMs,
      startMs: { services: servicesMs, peers: peersMs },
      convergenceMs,
      treeConvergenceMs,
      steady: {
        windowMs: Math.round(secs * 1000),
        perPeer: { msgsPerSec: spread(peerRates.map((r) => r.m)), bytesPerSec: spread(peerRates.map((r) => r.b)) },
        perSuperPeer: { msgsPerSec: spread(spRates.map((r) => r.m)), bytesPerSec: spread(spRates.map((r) => r.b)) },
        root: { msgsPerSec: spRates[0]?.m ?? 0, bytesPerSec: spRates[0]?.b ?? 0 },
        // every message is counted by its sender and its receiver: halve for messages on the wire
        totalMsgsPerSec: sum(all.map((r) => r.m)) / 2,
        totalBytesPerSec: sum(all.map((r) => r.b)) / 2,
        bootstrapCallsPerSec: (sum(Object.values(calls1)) - sum(Object.values(calls0))) / secs
      },
      bootstrapCalls: calls1,
      memory: memory(rss0, c.all().length)
    }
    if (o.jobs > 0) {
      log(`submitting ${o.jobs} jobs (${o.mix.map((k) => `${k.ranks}:${k.ms}`).join(',')})${o.churnPerMin > 0 ? ` under churn of ${o.churnPerMin}% of the peers per minute` : ''}`)
      const stopChurn = o.churnPerMin > 0 ? churn(c, { percentPerMin: o.churnPerMin, log }) : undefined
      let last = 0
      try {
        const tally = await runJobs(c, o.jobs, o.mix, {
          timeoutMs: o.timeoutMs,
          ...(o.signal !== undefined ? { signal: o.signal } : {}),
          onProgress: (x) => {
            if (Date.now() - last < 5000) return
            last = Date.now()
            log(`  jobs: ${x.submitted} submitted, ${x.succeeded} succeeded, ${x.failed} failed`)
          }
        })
        report.jobs = {
          submitted: tally.submitted, succeeded: tally.succeeded, failed: tally.failed, other: tally.other, starts: tally.starts,
          unfinished: tally.unfinished, unfinishedStates: tally.unfinishedStates,
          wallMs: tally.wallMs, latencyMs: latencySummary(tally.latencies), jobsPerSec: tally.submitted / (tally.wallMs / 1000)
        }
      } finally {
        if (stopChurn !== undefined) report.churn = await stopChurn()
      }
      report.memory = memory(rss0, c.all().length)
    }
    return report
  } finally {
    log('stopping')
    await c.stop().catch(() => {})
    if (o.dataDir === undefined) await rm(dataDir, { recursive: true, force: true }).catch(() => {})
  }
}

function moved (t: ControlTraffic): { m: number, b: number } { return { m: t.msgsIn + t.msgsOut, b: t.bytesIn + t.bytesOut } }
function sum (xs: number[]): number { return xs.reduce((a, b) => a + b, 0) }
function up (c: Community): number { return sum(c.upByGroup()) }

function memory (rss0: number, nodes: number): SimReport['memory'] {
  const m = process.memoryUsage()
  return { rssMB: Math.round(m.rss / 2 ** 20), heapUsedMB: Math.round(m.heapUsed / 2 ** 20), perNodeKB: Math.round((m.rss - rss0) / 1024 / Math.max(1, nodes)) }
}
