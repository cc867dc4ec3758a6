import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { EffectivePolicy } from '@mvm/model'
import { createBrokerClient, type SubmitJobRequest } from '@mvm/soap'
import { roomyYoungGeneration } from './heap.js'
import { Community, runLimited, waitFor, type SimNode } from './community.js'
import { sleepRequest } from './jobs.js'
import { percentile } from './stats.js'

/**
 * `mvm sim --queued N`: scheduling at scale. A community of G groups (a few peers each) gets a
 * small queue first (the baseline), then N jobs queued across the groups, two users per group
 * (one submits most of the jobs first, the other after), and jobs too wide for their group.
 * Measured, while the queue is at each length: every scheduling pass of every broker (the
 * broker's own `schedule`, timed from outside), the users' shares of the job starts (fair
 * share), and where the wide jobs went (the super-peers' cross-group path: refused for
 * capacity by their group, offered to the other brokers, taken by one that can run them).
 */
export interface SchedOptions {
  groups: number
  fanout: number
  peersPerGroup: number
  slots: number
  /** Jobs queued in all at the measured point (default 100,000). */
  queued: number
  /** Jobs queued in all at the baseline measured first in the same run (default 1,000). */
  baseline: number
  /** How long each rank of a queued job takes, ms. */
  rankMs: number
  /** Jobs wider than any group but the last, submitted one by one to the other groups. */
  wide: number
  /** How long the passes are sampled at each queue length. */
  windowMs: number
  heartbeatMs: number
  missedHeartbeats: number
  timeoutMs: number
  dataDir?: string
  policy?: EffectivePolicy
  signal?: AbortSignal
  log?: (line: string) => void
}

export interface PassStats {
  /** Jobs queued in all (every broker) when the window opened. */
  queued: number
  passes: number
  dispatched: number
  /** One scheduling pass of one broker, µs. */
  passUs: { p50: number, p99: number, max: number }
  /** A pass's time divided by the jobs it started, over the passes that started any, µs. */
  perDecisionUs: { p50: number, p99: number, mean: number }
  /** The decision samples (µs per started job), for the bench. */
  samples: number[]
}

export interface SchedReport {
  groups: number
  peers: number
  slotsPerGroup: number
  bigGroup: { group: string, slots: number }
  submit: { jobs: number, ms: number, perSec: number }
  baseline: PassStats
  full: PassStats
  /** full.perDecisionUs.p50 / baseline.perDecisionUs.p50 */
  ratio: number
  crossGroup: { submitted: number, byGroup: Record<string, number>, refused: string[], ranks: number }
  fairShare: { owners: Record<string, { queued: number, starts: number }>, minorityShare: number }
  memory: { rssMB: number }
}

interface PassRecord { us: number, dispatched: number }

export async function runSched (o: SchedOptions): Promise<SchedReport> {
  roomyYoungGeneration()
  const log = o.log ?? (() => {})
  const dataDir = o.dataDir ?? await mkdtemp(join(tmpdir(), 'mvm-sim-sched-'))
  const big = `g${o.groups - 1}`
  const bigSlots = o.slots * 4
  const c = new Community({
    ...(o.policy !== undefined ? { policy: o.policy } : {}),
    dataDir, peers: o.groups * o.peersPerGroup, groups: o.groups, fanout: o.fanout,
    heartbeatMs: o.heartbeatMs, missedHeartbeats: o.missedHeartbeats, slots: o.slots, slotsByGroup: { [big]: bigSlots }
  })
  try {
    await c.startServices(o.timeoutMs)
    log(`bootstrap and ${o.groups} super-peers up (tree depth ${c.tree.depth})`)
    await c.addPeers(o.groups * o.peersPerGroup)
    const want = c.expectedByGroup().reduce((a, b) => a + b, 0)
    await waitFor(() => c.upByGroup().reduce((a, b) => a + b, 0) >= want, o.timeoutMs, `all ${want} members up`, o.signal)
    log(`${want} members up`)

    // every pass of every broker, timed around the broker's own method (its code is unchanged)
    let passes: PassRecord[] = []
    const owners = new Map<string, string>()
    const starts = new Map<string, number>()
    let counting = false
    const offs: Array<() => void> = []
    for (const sp of c.superPeers) {
      const broker = brokerOf(sp) as unknown as { schedule: () => number }
      const own = broker.schedule.bind(broker)
      broker.schedule = () => {
        const t = performance.now()
        const n = own()
        passes.push({ us: (performance.now() - t) * 1000, dispatched: n })
        return n
      }
      offs.push(brokerOf(sp).on('job', (e) => {
        if (!counting || e.kind !== 'state' || e.state !== 'running') return
        const who = owners.get(e.jobId)
        if (who !== undefined) starts.set(who, (starts.get(who) ?? 0) + 1)
      }))
    }
    const queuedNow = (): number => c.superPeers.reduce((a, sp) => a + (brokerOf(sp).countByState().queued ?? 0), 0)
    const request = await sleepRequest({ ranks: 1, ms: o.rankMs }, 'sim')
    const submitTo = async (sp: SimNode, owner: string, n: number): Promise<void> => {
      const client = createBrokerClient(sp.host.node.soapUrl)
      for (let left = n; left > 0;) {
        o.signal?.throwIfAborted()
        const k = Math.min(200, left)
        const jobs: SubmitJobRequest[] = Array.from({ length: k }, () => ({ ...request, owner }))
        // one retry for a keep-alive socket the server closed just as it was reused (as runJobs does)
        const res = await client.SubmitJobs({ jobs }, { timeoutMs: 300_000 }).catch(async (err: unknown) => {
          if (!/ECONNRESET|socket hang up/.test((err as Error).message)) throw err
          return await client.SubmitJobs({ jobs }, { timeoutMs: 300_000 })
        })
        for (const s of res.submitted) owners.set(s.jobId, owner)
        left -= k
      }
    }
    const measure = async (what: string): Promise<PassStats> => {
      const queued = queuedNow()
      passes = []
      await new Promise((resolve) => setTimeout(resolve, o.windowMs))
      const s = passStats(queued, passes)
      log(`${what}: ${queued} queued, ${s.passes} passes started ${s.dispatched} jobs; a pass p50 ${s.passUs.p50.toFixed(0)} µs, per started job p50 ${s.perDecisionUs.p50.toFixed(0)} µs`)
      return s
    }

    // warm-up (not measured): a few short jobs per group, so the first measured passes are not the JIT's
    const warm = await sleepRequest({ ranks: 1, ms: 10 }, 'warm')
    await Promise.all(c.superPeers.map(async (sp) => {
      await createBrokerClient(sp.host.node.soapUrl).SubmitJobs({ jobs: Array.from({ length: 2 * o.peersPerGroup * o.slots }, () => warm) }, { timeoutMs: 300_000 })
    }))
    await waitFor(() => c.superPeers.every((sp) => { const n = brokerOf(sp).countByState(); return n.queued + n.scheduled + n.running === 0 }), o.timeoutMs, 'the warm-up jobs to end', o.signal)

    // the baseline: a short queue
    await Promise.all(c.superPeers.map(async (sp, g) => { await submitTo(sp, 'base', share(o.baseline, o.groups, g)) }))
    const baseline = await measure('baseline')

    // jobs wider than their group: refused there for capacity, passed on by the cross-group path
    const groupSlots = o.peersPerGroup * o.slots
    const ranks = Math.min(groupSlots + 1, o.peersPerGroup * bigSlots)
    const wideReq = await sleepRequest({ ranks, ms: o.rankMs }, 'wide')
    const byGroup: Record<string, number> = {}
    const refused: string[] = []
    for (let i = 0; i < o.wide; i++) {
      const sp = c.superPeers[i % Math.max(1, o.groups - 1)]!
      const client = createBrokerClient(sp.host.node.soapUrl)
      try {
        const { jobId } = await client.SubmitJob(wideReq, { timeoutMs: 300_000 })
        const info = await client.GetJob({ jobId }, { timeoutMs: 60_000 })
        const where = info.group ?? sp.group
        byGroup[where] = (byGroup[where] ?? 0) + 1
      } catch (err) {
        refused.push(`${sp.group}: ${(err as Error).message}`)
      }
    }
    log(`${o.wide} jobs of ${ranks} ranks (a group has ${groupSlots} slots, ${big} ${o.peersPerGroup * bigSlots}) submitted to other groups: ran in ${JSON.stringify(byGroup)}${refused.length > 0 ? `, ${refused.length} refused` : ''}`)

    // the full queue: per group, most jobs from one user first, then the other user's
    const t0 = Date.now()
    const minority = Math.max(1, Math.round(o.queued / o.groups / 10))
    const perOwner: Record<string, number> = { major: 0, minor: 0 }
    // a few groups at a time: a hundred 500-job requests at once in one starved process outlast
    // the SOAP server's request deadlines and it resets them
    await runLimited(c.superPeers.map((sp, g) => ({ sp, g })), 8, async ({ sp, g }) => {
      const n = share(o.queued, o.groups, g)
      const m = Math.min(minority, Math.floor(n / 2))
      await submitTo(sp, 'major', n - m)
      await submitTo(sp, 'minor', m)
      perOwner.major! += n - m
      perOwner.minor! += m
    })
    const submitMs = Date.now() - t0
    log(`${o.queued} jobs queued in ${(submitMs / 1000).toFixed(1)} s`)
    starts.clear()
    counting = true
    const full = await measure('full queue')
    counting = false
    const fairOwners = Object.fromEntries(Object.entries(perOwner).map(([k, q]) => [k, { queued: q, starts: starts.get(k) ?? 0 }]))
    const started = (starts.get('major') ?? 0) + (starts.get('minor') ?? 0)
    for (const off of offs) off()
    return {
      groups: o.groups,
      peers: o.groups * o.peersPerGroup,
      slotsPerGroup: groupSlots,
      bigGroup: { group: big, slots: o.peersPerGroup * bigSlots },
      submit: { jobs: o.queued, ms: submitMs, perSec: o.queued / (submitMs / 1000) },
      baseline,
      full,
      ratio: full.perDecisionUs.p50 / baseline.perDecisionUs.p50,
      crossGroup: { submitted: o.wide, byGroup, refused, ranks },
      fairShare: { owners: fairOwners, minorityShare: started === 0 ? Number.NaN : (starts.get('minor') ?? 0) / started },
      memory: { rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) }
    }
  } finally {
    log('stopping')
    await c.stop().catch(() => {})
    if (o.dataDir === undefined) await rm(dataDir, { recursive: true, force: true }).catch(() => {})
  }
}

function brokerOf (sp: SimNode): NonNullable<SimNode['host']['superPeer']>['agent']['broker'] {
  const b = sp.host.superPeer?.agent.broker
  if (b === undefined) throw new Error(`super-peer of ${sp.group} has no broker`)
  return b
}

function share (total: number, parts: number, i: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0)
}

function passStats (queued: number, rs: PassRecord[]): PassStats {
  const us = rs.map((r) => r.us).sort((a, b) => a - b)
  const per = rs.filter((r) => r.dispatched > 0).map((r) => r.us / r.dispatched)
  const sorted = [...per].sort((a, b) => a - b)
  return {
    queued,
    passes: rs.length,
    dispatched: rs.reduce((a, r) => a + r.dispatched, 0),
    passUs: { p50: percentile(us, 50), p99: percentile(us, 99), max: us[us.length - 1] ?? Number.NaN },
    perDecisionUs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: per.reduce((a, b) => a + b, 0) / Math.max(1, per.length) },
    samples: per
  }
}

export function formatSched (r: SchedReport): string[] {
  const f = (x: number): string => Math.round(x).toLocaleString('en-US')
  const row = (name: string, s: PassStats): string => `${name}: ${f(s.queued)} queued; ${f(s.passes)} passes started ${f(s.dispatched)} jobs; pass p50 ${f(s.passUs.p50)} µs, p99 ${f(s.passUs.p99)} µs, max ${f(s.passUs.max)} µs; per started job p50 ${f(s.perDecisionUs.p50)} µs, p99 ${f(s.perDecisionUs.p99)} µs`
  return [
    `${r.groups} groups, ${r.peers} peers (${r.slotsPerGroup} slots per group, ${r.bigGroup.group} ${r.bigGroup.slots})`,
    `submitted ${f(r.submit.jobs)} jobs in ${(r.submit.ms / 1000).toFixed(1)} s (${f(r.submit.perSec)} jobs/s over SOAP SubmitJobs)`,
    row('baseline', r.baseline),
    row('full queue', r.full),
    `decision time at the full queue / at the baseline (p50 per started job): ${r.ratio.toFixed(2)}×`,
    `jobs of ${r.crossGroup.ranks} ranks submitted to groups too small: ${r.crossGroup.submitted}; ran in ${JSON.stringify(r.crossGroup.byGroup)}${r.crossGroup.refused.length > 0 ? `; refused: ${r.crossGroup.refused.join(' | ')}` : ''}`,
    `fair share over the window: ${Object.entries(r.fairShare.owners).map(([k, v]) => `${k} ${f(v.queued)} queued, ${f(v.starts)} starts`).join('; ')}; the minority user's share of the starts ${(100 * r.fairShare.minorityShare).toFixed(0)} %`,
    `RSS ${f(r.memory.rssMB)} MB`
  ]
}
