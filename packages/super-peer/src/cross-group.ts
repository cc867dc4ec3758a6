import { CapacityError, ErrorCode, type Logger } from '@mvm/core'
import { createBrokerClient, type BrokerClient, type BrokerHandlers, type JobInfo, type SubmitJobRequest } from '@mvm/soap'

/** A super-peer of the tree as the bootstrap registry lists it. */
export interface BrokerEntry { group: string, soapUrl: string }

/** Where a job this broker passed on runs; `element`: one of a passed-on sweep's elements (listed under its parent). */
interface Route { group: string, url: string, element?: boolean, remoteId?: string }

/** A submission of a SubmitJobs batch this group refused for capacity, by its index in the batch. */
export interface RefusedInBatch { index: number, req: SubmitJobRequest, err: CapacityError }

export interface CrossGroupInit {
  /** This super-peer's group. */
  group: () => string
  /** The policy's scheduling.crossGroup. */
  allowed: () => boolean
  /** Every broker of the tree (the bootstrap registry). */
  brokers: () => Promise<BrokerEntry[]>
  /** The routes kept in the broker's store (JSON), and how to save them: they survive a restart. */
  load: () => string | null
  save: (json: string) => void
  log: Logger
}

const OFFER_TIMEOUT_MS = 60_000
/** Passed-on jobs asked of their groups per ListJobs call, at most. */
const LIST_MAX = 1000
const PROXY_TIMEOUT_MS = 30_000
/** Routes kept at most; the oldest go first (their jobs are then only known where they ran). */
const MAX_ROUTES = 100_000

/**
 * Jobs between groups: a submission this group refuses for capacity is offered to the other
 * groups' brokers, one after the other, and the first that accepts runs it (its queue traffic is
 * that group's). This broker keeps the route, so GetJob, WaitJob, GetJobResult, CancelJob,
 * HoldJob and ReleaseJob given here follow the job to where it runs. One hop only: a job that
 * was passed on (`viaGroups`) is not passed on again, so offers never loop.
 */
export class CrossGroup {
  private readonly routes = new Map<string, Route>()
  /** The last state each passed-on job was listed in, for when its group does not answer. */
  private readonly seen = new Map<string, JobInfo>()

  constructor (private readonly init: CrossGroupInit) {
    try {
      const stored = JSON.parse(init.load() ?? '{}') as Record<string, Route>
      for (const [id, r] of Object.entries(stored)) {
        if (typeof r?.group === 'string' && typeof r.url === 'string') this.routes.set(id, { group: r.group, url: r.url, ...(r.element === true ? { element: true } : {}), ...(typeof r.remoteId === 'string' ? { remoteId: r.remoteId } : {}) })
      }
    } catch (err) {
      init.log.warn({ err: (err as Error).message }, 'stored cross-group routes unreadable; jobs passed on before are only known where they run')
    }
  }

  /** The group a job passed on runs in, if this broker passed it on. */
  groupOf (jobId: string): string | undefined { return this.route(jobId)?.group }

  /**
   * A handler taking a job id that follows a job passed on to where it runs (`remote`), and
   * calls `local` for this broker's own jobs. An id this broker does not know is looked up
   * among the routes (full id or unique prefix) before the not-found error is let through.
   */
  follow<Req extends { jobId: string }, Res> (local: (req: Req, ctx: never) => Promise<Res>, remote: (c: BrokerClient, req: Req, route: { group: string, localId: string }) => Promise<Res>): (req: Req, ctx: never) => Promise<Res> {
    // a job that waited here before it was passed on has an id of its own there (`remoteId`)
    const go = async (req: Req, id: string, r: Route): Promise<Res> => await remote(createBrokerClient(r.url), { ...req, jobId: r.remoteId ?? id }, { group: r.group, localId: id })
    return async (req, ctx) => {
      const exact = this.routes.get(req.jobId)
      if (exact !== undefined) return await go(req, req.jobId, exact)
      let res: Res
      try {
        res = await local(req, ctx)
      } catch (err) {
        const r = (err as { code?: string }).code === ErrorCode.NOT_FOUND ? this.route(req.jobId) : undefined
        if (r === undefined) throw err
        return await go(req, this.fullId(req.jobId), r)
      }
      // passed on while the call was under way (a WaitJob long poll sees the job end here): follow it
      const moved = this.route(req.jobId)
      return moved?.remoteId !== undefined ? await go(req, this.fullId(req.jobId), moved) : res
    }
  }

  /** Wraps the job handlers: submissions this group refuses are offered on, and calls on their ids follow them. */
  wrap (jobs: BrokerHandlers): void {
    const submit = jobs.SubmitJob
    if (submit !== undefined) {
      jobs.SubmitJob = async (req, ctx) => {
        try {
          return await submit(req, ctx)
        } catch (err) {
          if (!(err instanceof CapacityError)) throw err
          return await this.offer(req, err)
        }
      }
    }
    const info = <K extends 'GetJob' | 'WaitJob' | 'CancelJob' | 'HoldJob' | 'ReleaseJob'>(name: K, remote: (c: BrokerClient, req: { jobId: string, timeoutMs?: number }) => Promise<JobInfo>): void => {
      const local = jobs[name] as ((req: { jobId: string }, ctx: never) => Promise<JobInfo>) | undefined
      if (local === undefined) return
      jobs[name] = this.follow(local, async (c, req, r) => ({ ...await remote(c, req), jobId: r.localId, group: r.group })) as never
    }
    info('GetJob', async (c, req) => await c.GetJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    info('WaitJob', async (c, req) => await c.WaitJob(req as never, { timeoutMs: (req.timeoutMs ?? 0) + PROXY_TIMEOUT_MS }))
    info('CancelJob', async (c, req) => await c.CancelJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    info('HoldJob', async (c, req) => await c.HoldJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    info('ReleaseJob', async (c, req) => await c.ReleaseJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    const list = jobs.ListJobs
    if (list !== undefined) {
      jobs.ListJobs = async (req, ctx) => {
        const listed = await list(req, ctx)
        // a job that waited here and was passed on is listed as it is where it runs
        const own = { ...listed, jobs: listed.jobs.filter((j) => this.routes.get(j.jobId)?.remoteId === undefined) }
        const limit = Math.min(Math.max(req.limit ?? 100, 1), 10_000)
        const away = (await this.passedOn(Math.min(limit, LIST_MAX))).filter((j) => req.state === undefined || j.state === req.state)
        if (away.length === 0) return own
        // newest first, as the broker lists its own
        const all = [...own.jobs, ...away].sort((a, b) => b.submittedAt.localeCompare(a.submittedAt))
        return { ...own, jobs: all.slice(0, limit) }
      }
    }
    const result = jobs.GetJobResult
    if (result !== undefined) jobs.GetJobResult = this.follow(result as never, async (c, req) => await c.GetJobResult(req as never, { timeoutMs: PROXY_TIMEOUT_MS })) as never
  }

  /**
   * The jobs this broker passed on (newest `limit`, sweep elements under their parent), as
   * their groups report them now, each with its `group`. A group that does not answer: its
   * jobs are shown as last seen, or left out (with a log line) if never seen.
   */
  async passedOn (limit: number): Promise<JobInfo[]> {
    const ids = [...this.routes].filter(([, r]) => r.element !== true).slice(-limit)
    const byUrl = new Map<string, { group: string, ids: string[], local: Map<string, string> }>()
    for (const [id, r] of ids) {
      const g = byUrl.get(r.url) ?? { group: r.group, ids: [], local: new Map<string, string>() }
      g.ids.push(r.remoteId ?? id)
      if (r.remoteId !== undefined) g.local.set(r.remoteId, id)
      byUrl.set(r.url, g)
    }
    const out: JobInfo[] = []
    await Promise.all([...byUrl].map(async ([url, g]) => {
      const c = createBrokerClient(url)
      let infos: JobInfo[]
      try {
        infos = (await c.WaitJobs({ jobIds: g.ids, timeoutMs: 0 }, { timeoutMs: PROXY_TIMEOUT_MS })).jobs
      } catch {
        // one id the group forgot (pruned history) must not hide the others: ask one by one
        infos = []
        for (const id of g.ids) {
          try { infos.push(await c.GetJob({ jobId: id }, { timeoutMs: PROXY_TIMEOUT_MS })) } catch (err) {
            const last = this.seen.get(g.local.get(id) ?? id)
            if (last !== undefined) infos.push({ ...last, reason: `group ${g.group} did not answer (${(err as Error).message}); as last seen` })
            else this.init.log.warn({ jobId: id, group: g.group, err: (err as Error).message }, 'a job passed on to another group could not be listed')
          }
        }
      }
      for (const i of infos) { const id = g.local.get(i.jobId) ?? i.jobId; const x = { ...i, jobId: id, group: g.group }; this.seen.set(id, x); out.push(x) }
    }))
    if (this.seen.size > LIST_MAX * 2) for (const k of [...this.seen.keys()].slice(0, this.seen.size - LIST_MAX)) this.seen.delete(k)
    return out
  }

  /**
   * SubmitJobs: the batch's submissions this group refused for capacity are offered on, one by
   * one. All or nothing, as a batch is: if one finds no group, the ones already passed on are
   * cancelled where they went and the batch is refused naming that submission.
   */
  async offerMany (refused: RefusedInBatch[]): Promise<Map<number, { jobId: string, childJobIds: string[] }>> {
    const placed = new Map<number, { jobId: string, childJobIds: string[] }>()
    for (const r of refused) {
      try {
        placed.set(r.index, await this.offer(r.req, r.err))
      } catch (err) {
        for (const p of placed.values()) await this.withdraw(p)
        const e = err instanceof CapacityError ? err : r.err
        throw new CapacityError(`jobs[${r.index}]: ${e.message}`, { retryable: false, ...(e.data !== undefined ? { data: e.data } : {}) })
      }
    }
    return placed
  }

  /** Cancels a job passed on (its batch was refused after all) and forgets its route. */
  private async withdraw ({ jobId, childJobIds }: { jobId: string, childJobIds: string[] }): Promise<void> {
    const r = this.routes.get(jobId)
    if (r === undefined) return
    try { await createBrokerClient(r.url).CancelJob({ jobId }, { timeoutMs: PROXY_TIMEOUT_MS }) } catch (err) {
      this.init.log.warn({ jobId, group: r.group, err: (err as Error).message }, 'a job passed on for a refused batch could not be cancelled there')
    }
    for (const id of [jobId, ...childJobIds]) this.routes.delete(id)
    this.saveRoutes()
  }

  /** Offers a refused submission to the other groups; the first that accepts runs it. */
  private async offer (req: SubmitJobRequest, refused: CapacityError): Promise<{ jobId: string, childJobIds: string[] }> {
    const { res, to } = await this.place(req, refused)
    this.routes.set(res.jobId, to)
    for (const id of res.childJobIds) this.routes.set(id, { ...to, element: true })
    this.saveRoutes()
    this.init.log.info({ jobId: res.jobId, to: to.group }, `job passed on to group ${to.group}: ${refused.message}`)
    return { jobId: res.jobId, childJobIds: res.childJobIds }
  }

  /**
   * A job that waited here (stored as `localId`) offered to the other groups; the first that
   * accepts runs it under an id of its own, which calls on `localId` here follow.
   * @returns the group that took it and its id there
   * @throws CapacityError naming what each group said when none took it
   */
  async passWaiting (req: SubmitJobRequest, localId: string, why: string): Promise<{ group: string, jobId: string }> {
    const { res, to } = await this.place(req, new CapacityError(why, { retryable: false }))
    this.routes.set(localId, { ...to, remoteId: res.jobId })
    this.saveRoutes()
    this.init.log.info({ jobId: localId, to: to.group, there: res.jobId }, `waiting job passed on to group ${to.group} (as ${res.jobId}): ${why}`)
    return { group: to.group, jobId: res.jobId }
  }

  /** A waiting job passed on that started here after all: its copy in the other group is cancelled and its route dropped. */
  async unpass (localId: string): Promise<void> {
    const r = this.routes.get(localId)
    if (r?.remoteId === undefined) return
    this.routes.delete(localId)
    this.saveRoutes()
    try { await createBrokerClient(r.url).CancelJob({ jobId: r.remoteId }, { timeoutMs: PROXY_TIMEOUT_MS }) } catch (err) {
      this.init.log.warn({ jobId: localId, group: r.group, there: r.remoteId, err: (err as Error).message }, 'the copy of a job that started here could not be cancelled in the group it was passed to')
    }
  }

  private async place (req: SubmitJobRequest, refused: CapacityError): Promise<{ res: { jobId: string, childJobIds: string[] }, to: Route }> {
    const own = this.init.group()
    const keep = (why: string): CapacityError => new CapacityError(`${refused.message}; ${why}`, { retryable: false, ...(refused.data !== undefined ? { data: refused.data } : {}) })
    if ((req.viaGroups ?? []).length > 0) throw refused
    if (!this.init.allowed()) throw keep(`the policy's scheduling.crossGroup: forbid keeps it in group '${own}'`)
    // dependencies name this broker's jobs, which another group does not have (stored inputs it fetches from here)
    if ((req.dependsOn ?? []).length > 0) throw keep('a job with dependencies is not passed to another group before they are done')
    const seen = new Set([own])
    const tried: string[] = []
    let brokers: BrokerEntry[] = []
    try { brokers = await this.init.brokers() } catch (err) { this.init.log.warn({ err: (err as Error).message }, 'no broker list for a cross-group offer') }
    for (const b of brokers) {
      if (seen.has(b.group) || b.soapUrl === '') continue
      seen.add(b.group)
      try {
        const res = await createBrokerClient(b.soapUrl).SubmitJob({ ...req, viaGroups: [own] }, { timeoutMs: OFFER_TIMEOUT_MS })
        return { res, to: { group: b.group, url: b.soapUrl } }
      } catch (err) {
        tried.push(`${b.group}: ${(err as Error).message}`)
      }
    }
    // a lone group (no other broker registered) refuses as it always did
    throw tried.length === 0 ? refused : keep(`no other group took it (${tried.join('; ')})`)
  }

  /** Whether another group's broker is registered (a lone group passes nothing on). */
  async othersExist (): Promise<boolean> {
    try { return (await this.init.brokers()).some((b) => b.group !== this.init.group() && b.soapUrl !== '') } catch { return false }
  }

  private saveRoutes (): void {
    this.trim()
    this.init.save(JSON.stringify(Object.fromEntries(this.routes)))
  }

  private trim (): void {
    for (const id of this.routes.keys()) {
      if (this.routes.size <= MAX_ROUTES) break
      this.routes.delete(id)
    }
  }

  /** A route by full id or unique prefix (with or without `j-`). */
  private route (jobId: string): Route | undefined {
    const full = this.fullId(jobId)
    return this.routes.get(full)
  }

  private fullId (jobId: string): string {
    if (this.routes.has(jobId)) return jobId
    const hits = [...this.routes.keys()].filter((k) => k.startsWith(jobId) || k.startsWith(`j-${jobId}`))
    return hits.length === 1 ? hits[0]! : jobId
  }
}
