import type { JobState } from '@mvm/core'
import type { Job, JobEvent, JobRequest, RankRecord } from './types.js'

/** Column shapes as SQLite returns them; JSON columns are parsed once here. */
export interface JobRow {
  id: string
  parent_id: string | null
  is_array: number
  name: string
  owner: string | null
  state: string
  priority: number
  seq: number
  size: number
  request: string
  placement: string | null
  reason: string | null
  result: string | null
  restarts: number
  bundle_sha: string | null
  created_at: number
  updated_at: number
  started_at: number | null
  ended_at: number | null
  node_deaths: number
  failure_streak: number
  last_failure: string | null
}

export interface EventRow { job_id: string, at: number, from_state: string | null, to_state: string, detail: string | null }
export interface RankRow { rank: number, exit_code: number, output: string | null, error: string | null, peer_id: string | null, started_at: number | null, finished_at: number | null, cpu_sec: number | null, max_rss_mb: number | null, exit_reason: string | null, outputs: string | null }

export function toJob (r: JobRow): Job {
  return {
    id: r.id,
    parentId: r.parent_id,
    name: r.name,
    owner: r.owner,
    state: r.state as JobState,
    priority: r.priority,
    seq: r.seq,
    size: r.size,
    request: JSON.parse(r.request) as JobRequest,
    placement: r.placement === null ? null : JSON.parse(r.placement) as string[],
    reason: r.reason,
    result: r.result === null ? null : JSON.parse(r.result) as unknown,
    restarts: r.restarts,
    bundleSha: r.bundle_sha,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    endedAt: r.ended_at,
    nodeDeaths: r.node_deaths,
    failureStreak: r.failure_streak,
    lastFailure: r.last_failure
  }
}

export function toEvent (r: EventRow): JobEvent {
  return { jobId: r.job_id, at: r.at, from: r.from_state as JobState | null, to: r.to_state as JobState, detail: r.detail }
}

export function toRank (r: RankRow): RankRecord {
  const out: RankRecord = { rank: r.rank, exitCode: r.exit_code }
  if (r.output !== null) out.output = JSON.parse(r.output) as unknown
  if (r.error !== null) out.error = r.error
  if (r.peer_id !== null) out.peerId = r.peer_id
  if (r.started_at !== null) out.startedAtMs = r.started_at
  if (r.finished_at !== null) out.finishedAtMs = r.finished_at
  if (r.cpu_sec !== null) out.cpuSec = r.cpu_sec
  if (r.max_rss_mb !== null) out.maxRssMB = r.max_rss_mb
  if (r.exit_reason !== null) out.exitReason = r.exit_reason
  if (r.outputs !== null) out.outputs = JSON.parse(r.outputs) as NonNullable<RankRecord['outputs']>
  return out
}

/** JSON for a column; `undefined` becomes SQL NULL rather than the string "undefined". */
export function json (v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v)
}
