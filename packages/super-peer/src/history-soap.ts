import type { Broker, HistoryEntry, HistoryQuery, RankRecord } from '@mvm/broker'
import { BadRequestError, JobState } from '@mvm/core'
import type { JobAccounting, ListHistoryRequest, RankResult } from '@mvm/soap'

const iso = (ms: number): string => new Date(ms).toISOString()
const STATES = new Set<string>(Object.values(JobState))

/** A rank as GetJobResult and ListHistory show it; `withOutput` adds its result JSON. */
export function rankResult (x: RankRecord, withOutput: boolean): RankResult {
  return {
    rank: x.rank,
    peerId: x.peerId ?? '',
    exitCode: x.exitCode,
    ...(withOutput && x.output !== undefined ? { resultJson: JSON.stringify(x.output) } : {}),
    ...(x.error !== undefined ? { error: x.error } : {}),
    startedAt: iso(x.startedAtMs ?? 0),
    finishedAt: iso(x.finishedAtMs ?? 0),
    ...(x.cpuSec !== undefined ? { cpuSec: x.cpuSec } : {}),
    ...(x.maxRssMB !== undefined ? { maxRssMB: x.maxRssMB } : {}),
    ...(x.exitReason !== undefined ? { exitReason: x.exitReason } : {})
  }
}

/** One sacct-style line: the job's times and the sums over its ranks. */
export function accounting ({ job, ranks }: HistoryEntry): JobAccounting {
  const ended = job.endedAt ?? job.updatedAt
  // the ranks' own clocks bound the run best: the broker marks a job running only once every
  // rank was instantiated, which can be most of a short job's life
  const starts = ranks.map((r) => r.startedAtMs ?? 0).filter((n) => n > 0)
  const ends = ranks.map((r) => r.finishedAtMs ?? 0).filter((n) => n > 0)
  const began = starts.length > 0 ? Math.min(...starts) : job.startedAt
  const finished = ends.length > 0 ? Math.max(...ends) : ended
  const out: JobAccounting = {
    jobId: job.id,
    name: job.name,
    owner: job.owner ?? '',
    state: job.state,
    size: job.size,
    restarts: job.restarts,
    submittedAt: iso(job.createdAt),
    finishedAt: iso(ended),
    queuedSec: Math.max(0, ((began ?? ended) - job.createdAt) / 1000),
    wallSec: began === null ? 0 : Math.max(0, (finished - began) / 1000),
    cpuSec: ranks.reduce((n, r) => n + (r.cpuSec ?? 0), 0),
    maxRssMB: ranks.reduce((n, r) => Math.max(n, r.maxRssMB ?? 0), 0),
    ranks: ranks.map((r) => rankResult(r, false))
  }
  if (job.parentId !== null) out.parentId = job.parentId
  if (job.startedAt !== null) out.startedAt = iso(job.startedAt)
  if (job.reason !== null) out.reason = job.reason
  return out
}

function time (v: string | undefined, field: string): number | undefined {
  if (v === undefined || v === '') return undefined
  const ms = Date.parse(v)
  if (Number.isNaN(ms)) throw new BadRequestError(`ListHistory.${field}: expected an ISO 8601 date-time, got ${JSON.stringify(v)}`)
  return ms
}

/** The ListHistory operation over the broker's store of finished jobs. */
export function listHistory (broker: Broker): (req: ListHistoryRequest) => Promise<{ jobs: JobAccounting[] }> {
  return async (req) => {
    if (req.state !== undefined && !STATES.has(req.state)) throw new BadRequestError(`ListHistory.state: unknown job state "${String(req.state)}"`)
    const q: HistoryQuery = { limit: Math.min(Math.max(req.limit ?? 100, 1), 10_000) }
    if (req.owner !== undefined && req.owner !== '') q.owner = req.owner
    if (req.state !== undefined) q.state = req.state
    if (req.name !== undefined && req.name !== '') q.name = req.name
    const since = time(req.since, 'since'); if (since !== undefined) q.since = since
    const until = time(req.until, 'until'); if (until !== undefined) q.until = until
    await broker.flush()
    return { jobs: broker.history(q).map(accounting) }
  }
}
