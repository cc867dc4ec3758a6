import type { Broker, Job, JobRequest, JobResult } from '@mvm/broker'
import type { BrokerHandlers, RequestContext, JobInfo, JobOutput, JobParam, GetJobResultResponse, SubmitJobRequest } from '@mvm/soap'
import { BadRequestError, CapacityError, InvalidStateError, type Logger } from '@mvm/core'
import type { InstanceTemplate } from '@mvm/wire'
import { prepareSubmission, type Submission } from './submission.js'
import { SubmissionCache } from './submission-cache.js'
import { JobWaiters } from './job-waiters.js'
import { listHistory, rankResult } from './history-soap.js'
import { gateBuilds } from './env-gate.js'
import { bindInputs, inputIds, inputPin, type BrokerData, type InputCheck } from './job-data.js'
import type { DataAccess } from './data-access.js'
import type { Holder } from '@mvm/data'

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
  const params = elementParams(j)
  if (params !== undefined) info.params = params
  if (j.childIds !== undefined) info.childJobIds = [...j.childIds]
  const wait = j.state === 'queued' || j.state === 'held' || (j.childIds !== undefined && j.state === 'running') ? broker.waitReason(j.id) : null
  if (wait !== null) info.waitReason = wait
  return info
}

/** The values `spec.array` gave an element (stored with its request at submit), if it is one. */
function elementParams (j: Job): JobParam[] | undefined {
  const p = j.request.arrayParams
  if (!Array.isArray(p)) return undefined
  return p.filter((x): x is JobParam => typeof x?.name === 'string' && typeof x?.value === 'string')
}

export function jobResult (r: JobResult, j?: Job): GetJobResultResponse {
  const out: GetJobResultResponse = {
    jobId: r.jobId,
    state: r.state,
    ranks: r.ranks.map((x) => rankResult(x, true))
  }
  if (r.value !== undefined && r.value !== null) out.resultJson = JSON.stringify(r.value)
  if (r.reason !== null) out.reason = r.reason
  const params = j !== undefined ? elementParams(j) : undefined
  if (params !== undefined) out.params = params
  const outputs = jobOutputs(r.ranks)
  if (outputs.length > 0) out.outputs = outputs
  return out
}

/** The files the ranks left (the profile's `outputs`, stored by the super-peer), in rank order. */
function jobOutputs (ranks: JobResult['ranks']): JobOutput[] {
  return [...ranks].sort((a, b) => a.rank - b.rank)
    .flatMap((x) => (x.outputs ?? []).map((o) => ({ name: o.name, id: o.id, size: o.size, rank: x.rank })))
}

const STATES = new Set(['queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'held'])

/** Most profiles in one SubmitJobs call. */
export const MAX_BATCH = 10_000

export interface JobHandlerOptions {
  /** Validated submissions by content; default a fresh one of the default size. */
  cache?: SubmissionCache
  waiters?: JobWaiters
  /** Checks a validated submission before it is stored (e.g. that the group can ever run it); throws to refuse it. */
  admit?: (request: JobRequest) => void
  /** The super-peer's data store: inputs are bound to the files in it. */
  data?: BrokerData
  /** Who may name which files and jobs as inputs (signed-in submitters only). */
  dataAccess?: DataAccess
  /** The policy's part in a new job (defaults for what the profile did not write, limits); throws to refuse it. */
  shape?: (request: JobRequest, written: ReadonlySet<string>, profile: string) => JobRequest
  /** Asks the node running rank 0 of a job for a coordinated cut (`CheckpointJob`). */
  requestCut?: (jobId: string, peerId: string) => Promise<void>
  /**
   * SubmitJobs: submissions of the batch that `admit` refused for capacity, run elsewhere (in
   * another group); returns their ids by batch index, or throws to refuse the whole batch.
   */
  passOn?: (refused: Array<{ index: number, req: SubmitJobRequest, err: CapacityError }>) => Promise<Map<number, { jobId: string, childJobIds: string[] }>>
  /** The data holders of the group a passed-on submission came from (`viaGroups`): its stored inputs are fetched from there. */
  originHolders?: (viaGroups: string[]) => Promise<Holder[]>
  log?: Logger
}

/**
 * The job half of the Broker WSDL, over the broker core. A submission is stored durably
 * before the reply; state shown in a reply is committed first (`broker.flush()`), so a client
 * never sees a change a crash could take back.
 */
export function brokerJobHandlers (broker: Broker, progress: ProgressSource, options: JobHandlerOptions = {}): BrokerHandlers {
  const cache = options.cache ?? new SubmissionCache()
  const waiters = options.waiters ?? new JobWaiters(broker)
  const ownerOf = (o: string | undefined): string => o !== undefined && o !== '' ? o : 'anonymous'
  // every job id a client sends may be a unique prefix (`j-0mx7s9qv`, or `0lmz` of the random part)
  const id = (jobId: string): string => broker.resolveId(jobId)
  const prepare = async (req: SubmitJobRequest, ctx: RequestContext | undefined): Promise<Submission> => {
    const prepared = await prepareSubmission(req, { owner: ownerOf(req.owner), cache })
    const shaped = options.shape === undefined ? prepared : { ...prepared, request: options.shape(prepared.request, prepared.written ?? new Set(), req.profileName ?? 'profile.yaml') }
    const sub = withDependsOn(shaped, req.dependsOn)
    // a signed-in submitter is the job's owner (policy-soap.ts set it): their files and jobs only
    const user = ctx?.caller?.user === undefined ? undefined : ownerOf(req.owner)
    const access = options.dataAccess
    const check: InputCheck | undefined = user === undefined || access === undefined
      ? undefined
      : { file: (id, what) => { access.checkRead(user, id, what) }, job: (jobId, what) => { access.checkJob(user, jobId, what) } }
    const origin = (req.viaGroups ?? []).length > 0 && options.originHolders !== undefined ? await options.originHolders(req.viaGroups!) : []
    const bind = async (r: JobRequest): Promise<JobRequest> => await bindInputs(r, req.inputs, options.data, broker, check, origin)
    const request = await bind(sub.request)
    if (request.children !== undefined) request.children = await Promise.all(request.children.map(async (c) => await bind(c as JobRequest)))
    return { ...sub, request }
  }
  const pinInputs = async (jobIds: string[]): Promise<void> => {
    if (options.data === undefined) return
    for (const j of jobIds) for (const id of inputIds(broker.get(j))) await options.data.store.pin(id, inputPin(j)).catch(() => {})
  }
  const info = async (jobId: string): Promise<JobInfo> => {
    await broker.flush()
    return jobInfo(broker, broker.get(id(jobId)), progress)
  }
  return {
    async SubmitJob (req, ctx) {
      const sub = await prepare(req, ctx)
      options.admit?.(sub.request)
      // concurrent submits share one commit; none is answered before it is durable
      const [res] = broker.submitMany([{ request: sub.request, bundle: sub.bundle }], { commit: 'batch' })
      // before the broker's next pass (on a later turn): a job whose environment is not built waits for it
      if (options.data !== undefined) gateBuilds(broker, options.data, [res!.jobId, ...res!.childJobIds], options.log)
      await broker.flush()
      await pinInputs([res!.jobId, ...res!.childJobIds])
      return { jobId: res!.jobId, childJobIds: res!.childJobIds }
    },
    async SubmitJobs ({ jobs }, ctx) {
      if (jobs.length > MAX_BATCH) throw new BadRequestError(`SubmitJobs: at most ${MAX_BATCH} jobs per call (got ${jobs.length})`)
      const subs = []
      const here: number[] = []
      const refused: Array<{ index: number, req: SubmitJobRequest, err: CapacityError }> = []
      for (const [i, req] of jobs.entries()) {
        try {
          const sub = await prepare(req, ctx)
          options.admit?.(sub.request)
          subs.push(sub)
          here.push(i)
        } catch (err) {
          if (options.passOn !== undefined && err instanceof CapacityError) { refused.push({ index: i, req, err }); continue }
          throw inBatch(err, i, jobs.length)
        }
      }
      // every submission checked: the ones this group cannot run go elsewhere first (or the batch is refused)
      const away = refused.length === 0 ? new Map<number, { jobId: string, childJobIds: string[] }>() : await options.passOn!(refused)
      const res = broker.submitMany(subs.map((s) => ({ request: s.request, bundle: s.bundle })), { commit: 'batch' })
      if (options.data !== undefined) gateBuilds(broker, options.data, res.flatMap((r) => [r.jobId, ...r.childJobIds]), options.log)
      await broker.flush()
      await pinInputs(res.flatMap((r) => [r.jobId, ...r.childJobIds]))
      const out = new Map(away)
      here.forEach((i, k) => { out.set(i, { jobId: res[k]!.jobId, childJobIds: res[k]!.childJobIds }) })
      return { submitted: jobs.map((_, i) => out.get(i)!) }
    },
    async WaitJob ({ jobId, timeoutMs }) {
      const full = id(jobId)
      await waiters.wait([full], timeoutMs)
      return await info(full)
    },
    async WaitJobs ({ jobIds, timeoutMs }) {
      if (jobIds.length > MAX_BATCH) throw new BadRequestError(`WaitJobs: at most ${MAX_BATCH} job ids per call (got ${jobIds.length})`)
      const full = jobIds.map(id)
      await waiters.wait(full, timeoutMs)
      await broker.flush()
      return { jobs: full.map((j) => jobInfo(broker, broker.get(j), progress)) }
    },
    async GetJob ({ jobId }) { return await info(jobId) },
    ListHistory: listHistory(broker),
    async ListJobs ({ state, limit }) {
      if (state !== undefined && !STATES.has(state)) throw new BadRequestError(`unknown job state "${String(state)}"`)
      const q: { state?: Job['state'], limit?: number } = {}
      if (state !== undefined) q.state = state
      q.limit = Math.min(Math.max(limit ?? 100, 1), 10_000)
      return { jobs: broker.list(q).map((j) => jobInfo(broker, j, progress)) }
    },
    async CancelJob ({ jobId }, ctx) { return jobInfo(broker, await broker.cancel(id(jobId), { by: ctx.remoteAddress }), progress) },
    async ReleaseJob ({ jobId, subject }, ctx) {
      const job = await broker.release(id(jobId), { by: by(subject, ctx.remoteAddress) })
      await broker.flush()
      return jobInfo(broker, job, progress)
    },
    async HoldJob ({ jobId, subject }, ctx) {
      const job = await broker.hold(id(jobId), { by: by(subject, ctx.remoteAddress) })
      await broker.flush()
      return jobInfo(broker, job, progress)
    },
    async CheckpointJob ({ jobId }) {
      const job = broker.get(id(jobId))
      const mode = (job.request.instance as InstanceTemplate | undefined)?.checkpoint?.mode
      if (mode !== 'coordinated') throw new InvalidStateError(`CheckpointJob(${job.id}): the job's profile has no checkpoint.mode coordinated`)
      if (job.state !== 'running' || job.placement === null) throw new InvalidStateError(`CheckpointJob(${job.id}): the job is ${job.state}, not running`)
      if (options.requestCut === undefined) throw new InvalidStateError(`CheckpointJob(${job.id}): this broker cannot reach the job's nodes`)
      await options.requestCut(job.id, job.placement[0]!)
      return jobInfo(broker, job, progress)
    },
    async ResizeJob ({ jobId, size, subject }, ctx) {
      const job = await broker.resize(id(jobId), size, { by: by(subject, ctx.remoteAddress) })
      await broker.flush()
      return jobInfo(broker, job, progress)
    },
    async RequeueJob ({ jobId, subject }, ctx) {
      const job = await broker.requeue(id(jobId), { by: by(subject, ctx.remoteAddress) })
      await broker.flush()
      return jobInfo(broker, job, progress)
    },
    async GetJobResult ({ jobId }) { await broker.flush(); const full = id(jobId); return jobResult(broker.result(full), broker.get(full)) }
  }
}

/** Who to name in "held by …": the subject the client acts for, else where the request came from. */
function by (subject: string | undefined, remote: string | undefined): string | undefined {
  return subject !== undefined && subject !== '' ? subject : remote
}

/** The request's `dependsOn` strings join the profile's own (the broker resolves and checks them all). */
function withDependsOn (sub: Submission, extra: string[] | undefined): Submission {
  if (extra === undefined || extra.length === 0) return sub
  const own = sub.request.dependsOn as unknown
  const mine: unknown[] = own === undefined ? [] : Array.isArray(own) ? own : [own]
  return { ...sub, request: { ...sub.request, dependsOn: [...mine, ...extra] as JobRequest['dependsOn'] } }
}

/** Says which submission of a batch was refused; a validation error is kept as is (its issues name the profile's files). */
function inBatch (err: unknown, i: number, n: number): unknown {
  if (n === 1 || !(err instanceof BadRequestError)) return err
  return new BadRequestError(`jobs[${i}]: ${err.message}`, { data: err.data, cause: err })
}
