import { CapacityError, ErrorCode, type Logger } from '@mvm/core'
import { createBrokerClient, type BrokerClient, type BrokerHandlers, type JobInfo, type SubmitJobRequest } from '@mvm/soap'

/** A super-peer of the tree as the bootstrap registry lists it. */
export interface BrokerEntry { group: string, soapUrl: string }

/** Where a job this broker passed on runs. */
interface Route { group: string, url: string }

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

  constructor (private readonly init: CrossGroupInit) {
    try {
      const stored = JSON.parse(init.load() ?? '{}') as Record<string, Route>
      for (const [id, r] of Object.entries(stored)) if (typeof r?.group === 'string' && typeof r.url === 'string') this.routes.set(id, r)
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
  follow<Req extends { jobId: string }, Res> (local: (req: Req, ctx: never) => Promise<Res>, remote: (c: BrokerClient, req: Req, route: { group: string }) => Promise<Res>): (req: Req, ctx: never) => Promise<Res> {
    return async (req, ctx) => {
      const exact = this.routes.get(req.jobId)
      if (exact !== undefined) return await remote(createBrokerClient(exact.url), req, exact)
      try {
        return await local(req, ctx)
      } catch (err) {
        const r = (err as { code?: string }).code === ErrorCode.NOT_FOUND ? this.route(req.jobId) : undefined
        if (r === undefined) throw err
        return await remote(createBrokerClient(r.url), { ...req, jobId: this.fullId(req.jobId) }, r)
      }
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
      jobs[name] = this.follow(local, async (c, req, r) => ({ ...await remote(c, req), group: r.group })) as never
    }
    info('GetJob', async (c, req) => await c.GetJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    info('WaitJob', async (c, req) => await c.WaitJob(req as never, { timeoutMs: (req.timeoutMs ?? 0) + PROXY_TIMEOUT_MS }))
    info('CancelJob', async (c, req) => await c.CancelJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    info('HoldJob', async (c, req) => await c.HoldJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    info('ReleaseJob', async (c, req) => await c.ReleaseJob(req, { timeoutMs: PROXY_TIMEOUT_MS }))
    const result = jobs.GetJobResult
    if (result !== undefined) jobs.GetJobResult = this.follow(result as never, async (c, req) => await c.GetJobResult(req as never, { timeoutMs: PROXY_TIMEOUT_MS })) as never
  }

  /** Offers a refused submission to the other groups; the first that accepts runs it. */
  private async offer (req: SubmitJobRequest, refused: CapacityError): Promise<{ jobId: string, childJobIds: string[] }> {
    const own = this.init.group()
    const keep = (why: string): CapacityError => new CapacityError(`${refused.message}; ${why}`, { retryable: false, ...(refused.data !== undefined ? { data: refused.data } : {}) })
    if ((req.viaGroups ?? []).length > 0) throw refused
    if (!this.init.allowed()) throw keep(`the policy's scheduling.crossGroup: forbid keeps it in group '${own}'`)
    // stored inputs and dependencies name this broker's files and jobs: another group has neither
    if ((req.inputs ?? []).length > 0 || (req.dependsOn ?? []).length > 0) throw keep('a job with stored inputs or dependencies is not passed to another group')
    const seen = new Set([own])
    const tried: string[] = []
    let brokers: BrokerEntry[] = []
    try { brokers = await this.init.brokers() } catch (err) { this.init.log.warn({ err: (err as Error).message }, 'no broker list for a cross-group offer') }
    for (const b of brokers) {
      if (seen.has(b.group) || b.soapUrl === '') continue
      seen.add(b.group)
      try {
        const res = await createBrokerClient(b.soapUrl).SubmitJob({ ...req, viaGroups: [own] }, { timeoutMs: OFFER_TIMEOUT_MS })
        for (const id of [res.jobId, ...res.childJobIds]) this.routes.set(id, { group: b.group, url: b.soapUrl })
        this.trim()
        this.init.save(JSON.stringify(Object.fromEntries(this.routes)))
        this.init.log.info({ jobId: res.jobId, to: b.group }, `job passed on to group ${b.group}: ${refused.message}`)
        return { jobId: res.jobId, childJobIds: res.childJobIds }
      } catch (err) {
        tried.push(`${b.group}: ${(err as Error).message}`)
      }
    }
    // a lone group (no other broker registered) refuses as it always did
    throw tried.length === 0 ? refused : keep(`no other group took it (${tried.join('; ')})`)
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
