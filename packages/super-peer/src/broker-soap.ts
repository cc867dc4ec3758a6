import type { Broker, Job, JobResult } from '@mvm/broker'
import type { BrokerHandlers, JobInfo, GetJobResultResponse } from '@mvm/soap'
import { BadRequestError } from '@mvm/core'
import { prepareSubmission } from './submission.js'

const iso = (ms: number | null | undefined): string | undefined => ms === null || ms === undefined ? undefined : new Date(ms).toISOString()

export interface ProgressSource { ranksStarted: (jobId: string) => number }

export function jobInfo (broker: Broker, j: Job, progress: ProgressSource): JobInfo {
  const finished = j.childIds !== undefined ? 0 : broker.result(j.id).ranks.length
  const info: JobInfo = {
    jobId: j.id,
    name: j.name,
    state: j.state,
    priority: j.priority,
    size: j.size,
    owner: j.owner ?? '',
    submittedAt: iso(j.createdAt)!,
    placement: (j.placement ?? []).map((peerId, rank) => ({ rank, peerId })),
    ranksStarted: Math.max(progress.ranksStarted(j.id), finished),
    ranksFinished: finished
  }
  if (j.parentId !== null) info.parentId = j.parentId
  const started = iso(j.startedAt); if (started !== undefined) info.startedAt = started
  const ended = iso(j.endedAt); if (ended !== undefined) info.finishedAt = ended
  if (j.reason !== null) info.reason = j.reason
  return info
}

export function jobResult (r: JobResult): GetJobResultResponse {
  const out: GetJobResultResponse = {
    jobId: r.jobId,
    state: r.state,
    ranks: r.ranks.map((x) => {
      return {
        rank: x.rank,
        peerId: x.peerId ?? '',
        exitCode: x.exitCode,
        ...(x.output !== undefined ? { resultJson: JSON.stringify(x.output) } : {}),
        ...(x.error !== undefined ? { error: x.error } : {}),
        startedAt: iso(x.startedAtMs ?? 0)!,
        finishedAt: iso(x.finishedAtMs ?? 0)!
      }
    })
  }
  if (r.value !== undefined && r.value !== null) out.resultJson = JSON.stringify(r.value)
  if (r.reason !== null) out.reason = r.reason
  return out
}

const STATES = new Set(['queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled'])

/** The job half of the Broker WSDL, over the broker core. */
export function brokerJobHandlers (broker: Broker, progress: ProgressSource): BrokerHandlers {
  return {
    async SubmitJob (req) {
      const owner = req.owner !== undefined && req.owner !== '' ? req.owner : 'anonymous'
      const sub = await prepareSubmission(req, { owner })
      const res = broker.submit(sub.request, { bundle: sub.bundle })
      return { jobId: res.jobId, childJobIds: res.childJobIds ?? [] }
    },
    async GetJob ({ jobId }) { return jobInfo(broker, broker.get(jobId), progress) },
    async ListJobs ({ state, limit }) {
      if (state !== undefined && !STATES.has(state)) throw new BadRequestError(`unknown job state "${String(state)}"`)
      const q: { state?: Job['state'], limit?: number } = {}
      if (state !== undefined) q.state = state
      q.limit = Math.min(Math.max(limit ?? 100, 1), 10_000)
      return { jobs: broker.list(q).map((j) => jobInfo(broker, j, progress)) }
    },
    async CancelJob ({ jobId }, ctx) { return jobInfo(broker, await broker.cancel(jobId, { by: ctx.remoteAddress }), progress) },
    async GetJobResult ({ jobId }) { return jobResult(broker.result(jobId)) }
  }
}
