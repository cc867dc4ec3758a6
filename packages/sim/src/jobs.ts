import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { createBrokerClient, type SubmitJobRequest } from '@mvm/soap'
import { percentile } from './stats.js'
import type { Community, SimNode } from './community.js'

/** One kind of job in the mix: ranks and how long each rank takes. */
export interface JobKind { ranks: number, ms: number }

/** `1:100,2:500` → two kinds (1 rank of 100 ms, 2 ranks of 500 ms); submitted round-robin. */
export function parseMix (text: string): JobKind[] {
  const kinds = text.split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => {
    const m = /^(\d+):(\d+)$/.exec(s)
    if (m === null) throw new Error(`--mix: expected ranks:ms entries separated by commas (e.g. 1:100,2:500), got "${s}"`)
    const k = { ranks: Number(m[1]), ms: Number(m[2]) }
    if (k.ranks < 1) throw new Error(`--mix: "${s}": ranks must be at least 1`)
    return k
  })
  if (kinds.length === 0) throw new Error('--mix: give at least one ranks:ms entry')
  return kinds
}

const PROFILE_DIR = fileURLToPath(new URL('../profiles/', import.meta.url))

/** A SubmitJob request for the sleep profile, as `mvm submit profiles/sleep.yaml -p …` would send it. */
export async function sleepRequest (k: JobKind, owner: string): Promise<SubmitJobRequest> {
  const [yaml, program] = await Promise.all([readFile(PROFILE_DIR + 'sleep.yaml', 'utf8'), readFile(PROFILE_DIR + 'sleep.ts')])
  return {
    profileYaml: yaml,
    profileName: 'sleep.yaml',
    params: [{ name: 'processes', value: String(k.ranks) }, { name: 'ms', value: String(k.ms) }],
    bundle: [{ path: 'sleep.yaml', content: new TextEncoder().encode(yaml) }, { path: 'sleep.ts', content: new Uint8Array(program) }],
    owner
  }
}

export interface JobTally {
  submitted: number
  succeeded: number
  failed: number
  other: number
  /** queued → running, ms, per job start. */
  latencies: number[]
  /** Jobs that started (a requeued job starts again). */
  starts: number
  /** Wall time from the first submit to the last job's end, ms. */
  wallMs: number
  /** Jobs not terminal when the wait ran out, and the states the brokers held them in then. */
  unfinished: number
  unfinishedStates: Record<string, number>
}

/**
 * Watches every super-peer's broker (queued → running times, terminal states) and submits
 * `count` jobs through each group's Broker SOAP endpoint in `SubmitJobs` batches, spread
 * round-robin over the groups and the mix. Resolves once every job is terminal.
 */
export async function runJobs (c: Community, count: number, mix: JobKind[], opts: { batch?: number, timeoutMs: number, signal?: AbortSignal, onProgress?: (t: JobTally) => void, groups?: SimNode[] }): Promise<JobTally> {
  const tally: JobTally = { submitted: 0, succeeded: 0, failed: 0, other: 0, latencies: [], starts: 0, wallMs: 0, unfinished: 0, unfinishedStates: {} }
  const queuedAt = new Map<string, number>()
  const ended = new Set<string>()
  const offs: Array<() => void> = []
  const sps = opts.groups ?? c.superPeers
  for (const sp of sps) {
    const broker = sp.host.superPeer?.agent.broker
    if (broker === undefined) throw new Error(`super-peer of ${sp.group} has no broker`)
    offs.push(broker.on('job', (e) => {
      if (e.kind !== 'state') return
      const key = `${sp.group}/${e.jobId}`
      if (e.state === 'queued') queuedAt.set(key, e.at)
      else if (e.state === 'running') {
        const q = queuedAt.get(key)
        if (q !== undefined) { tally.latencies.push(e.at - q); tally.starts++ }
      } else if (e.state === 'succeeded' || e.state === 'failed' || e.state === 'cancelled') {
        if (ended.has(key)) return
        ended.add(key)
        queuedAt.delete(key)
        if (e.state === 'succeeded') tally.succeeded++
        else if (e.state === 'failed') tally.failed++
        else tally.other++
      }
    }))
  }
  const t0 = Date.now()
  try {
    const requests = await Promise.all(mix.map(async (k) => await sleepRequest(k, 'sim')))
    const batch = opts.batch ?? 200
    const perGroup = sps.map((_, g) => Math.floor(count / sps.length) + (g < count % sps.length ? 1 : 0))
    await Promise.all(sps.map(async (sp, g) => {
      const client = createBrokerClient(sp.host.node.soapUrl)
      let left = perGroup[g]!
      let i = g
      while (left > 0) {
        opts.signal?.throwIfAborted()
        const n = Math.min(batch, left)
        const jobs = Array.from({ length: n }, () => requests[(i++) % requests.length]!)
        // one retry for a reset keep-alive socket (the server closed it idle just as it was reused),
        // which almost always means the request never reached the broker; were it stored twice,
        // the extra jobs would still be run and counted by the broker events, not hidden
        await client.SubmitJobs({ jobs }, { timeoutMs: 120_000 }).catch(async (err: unknown) => {
          if (!/ECONNRESET|socket hang up/.test((err as Error).message)) throw err
          await client.SubmitJobs({ jobs }, { timeoutMs: 120_000 })
        })
        tally.submitted += n
        left -= n
      }
    }))
    const end = Date.now() + opts.timeoutMs
    while (ended.size < tally.submitted) {
      opts.signal?.throwIfAborted()
      if (Date.now() > end) {
        // reported, not thrown: how many were stuck, and where, is the finding
        tally.unfinished = tally.submitted - ended.size
        for (const sp of sps) {
          for (const [state, n] of Object.entries(sp.host.superPeer?.agent.broker.countByState() ?? {})) {
            if (n > 0 && !['succeeded', 'failed', 'cancelled'].includes(state)) tally.unfinishedStates[state] = (tally.unfinishedStates[state] ?? 0) + n
          }
        }
        break
      }
      opts.onProgress?.(tally)
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  } finally {
    for (const off of offs) off()
    tally.wallMs = Date.now() - t0
  }
  return tally
}

export function latencySummary (ms: readonly number[]): { p50: number, p90: number, p99: number, max: number } {
  const s = [...ms].sort((a, b) => a - b)
  return { p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? Number.NaN }
}
