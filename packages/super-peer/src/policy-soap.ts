import { NotFoundError } from '@mvm/core'
import type { Broker } from '@mvm/broker'
import type { BrokerHandlers, Handler, RequestContext } from '@mvm/soap'
import type { EffectivePolicy } from '@mvm/model'
import { ANONYMOUS, authorize, type Permission } from './policy-auth.js'
import type { PolicyControl } from './policy-control.js'

/** The identity a request names: SubmitJob as the job's `owner`, the other Broker operations in their optional `subject`. */
function claimOf (req: unknown): string | undefined {
  const r = req as { owner?: unknown, subject?: unknown } | undefined
  for (const v of [r?.subject, r?.owner]) if (typeof v === 'string' && v !== '') return v
  return undefined
}

/**
 * Who is asking. An authenticated caller is who its credentials prove, and may name another
 * identity only with `subject.assume`; an unauthenticated one (allowed while
 * `security.clientAuthentication` is none) is what the request names, else {@link ANONYMOUS}.
 * @throws ForbiddenError when an authenticated caller claims another identity without the right
 */
export function subjectOf (req: unknown, ctx: RequestContext | undefined, policy: EffectivePolicy): string {
  const claim = claimOf(req)
  const user = ctx?.caller?.user
  if (user === undefined) return claim ?? ANONYMOUS
  if (claim === undefined || claim === user) return user
  authorize(policy, user, 'subject.assume', ` to act as "${claim}"`)
  return claim
}

/** A SOAP handler that first checks the caller's permission against the policy in force at the call. */
export function authorized<Req, Res> (h: Handler<Req, Res>, policy: () => EffectivePolicy, permission: (req: Req, subject: string) => Permission): Handler<Req, Res> {
  return async (req, ctx) => {
    const p = policy()
    const subject = subjectOf(req, ctx, p)
    authorize(p, subject, permission(req, subject))
    return await h(withSubject(req, ctx, subject), ctx)
  }
}

/** The request as the handler must see it: an authenticated caller's job is owned by the identity it proved (or assumed). */
function withSubject<Req> (req: Req, ctx: RequestContext | undefined, subject: string): Req {
  if (ctx?.caller?.user === undefined || typeof req !== 'object' || req === null) return req
  const r = req as Record<string, unknown>
  // `owner` is the job's owner only in a submission (ListHistory's `owner` is a filter)
  return typeof r.profileYaml === 'string' ? { ...r, owner: subject, subject } as Req : { ...r, subject } as Req
}

/**
 * Tenants apart: a signed-in caller reads another user's job (status, result, logs, waits)
 * only with `job.read.any`. Unsigned callers (authentication not required) are not tenants.
 */
export function readGuard<Req, Res> (h: Handler<Req, Res>, broker: Broker, policy: () => EffectivePolicy, ids: (req: Req) => string[]): Handler<Req, Res> {
  return async (req, ctx) => {
    const user = ctx?.caller?.user
    if (user !== undefined) {
      const p = policy()
      const subject = subjectOf(req, ctx, p)
      for (const id of ids(req)) {
        let owner: string | null | undefined
        try { owner = broker.get(broker.resolveId(id)).owner } catch { continue }
        if ((owner ?? ANONYMOUS) !== subject) authorize(p, subject, 'job.read.any', ` to read job ${id} of "${owner ?? ANONYMOUS}"`)
      }
    }
    return await h(req, ctx)
  }
}

/** Lists cut to the caller's own jobs for a signed-in caller without `job.read.any`. */
function ownOnly<Req, Res extends { jobs: Array<{ owner: string }> }> (h: Handler<Req, Res>, policy: () => EffectivePolicy): Handler<Req, Res> {
  return async (req, ctx) => {
    const res = await h(req, ctx)
    const user = ctx?.caller?.user
    if (user === undefined) return res
    const p = policy()
    const subject = subjectOf(req, ctx, p)
    try { authorize(p, subject, 'job.read.any'); return res } catch { return { ...res, jobs: res.jobs.filter((j) => j.owner === subject) } }
  }
}

function guarded<Req, Res> (h: Handler<Req, Res> | undefined, policy: () => EffectivePolicy, permission: (req: Req, subject: string) => Permission): Handler<Req, Res> | undefined {
  return h === undefined ? undefined : authorized(h, policy, permission)
}

/**
 * The job operations of the Broker WSDL behind the policy's role-based access: each checks
 * the caller's permission against the policy in force at the time of the call.
 */
export function authorizedJobHandlers (h: BrokerHandlers, broker: Broker, policy: () => EffectivePolicy): BrokerHandlers {
  const out: BrokerHandlers = {}
  const set = <K extends keyof BrokerHandlers>(k: K, v: BrokerHandlers[K] | undefined): void => { if (v !== undefined) out[k] = v }
  set('SubmitJob', guarded(h.SubmitJob, policy, () => 'job.submit'))
  const one = (r: { jobId: string }): string[] => [r.jobId]
  set('GetJob', guarded(h.GetJob && readGuard(h.GetJob, broker, policy, one), policy, () => 'job.status'))
  set('ListJobs', guarded(h.ListJobs && ownOnly(h.ListJobs, policy), policy, () => 'job.list'))
  set('ListHistory', guarded(h.ListHistory && ownOnly(h.ListHistory, policy), policy, () => 'job.list'))
  set('GetJobResult', guarded(h.GetJobResult && readGuard(h.GetJobResult, broker, policy, one), policy, () => 'job.result'))
  set('WaitJob', guarded(h.WaitJob && readGuard(h.WaitJob, broker, policy, one), policy, () => 'job.status'))
  set('WaitJobs', guarded(h.WaitJobs && readGuard(h.WaitJobs, broker, policy, (r) => r.jobIds), policy, () => 'job.status'))
  // each submission names its own owner: every one must be allowed to submit
  const many = h.SubmitJobs
  if (many !== undefined) {
    out.SubmitJobs = async (req, ctx) => {
      const p = policy()
      const jobs = req.jobs.map((j) => {
        const owner = subjectOf(j, ctx, p)
        authorize(p, owner, 'job.submit')
        return ctx?.caller?.user === undefined ? j : { ...j, owner }
      })
      return await many({ ...req, jobs }, ctx)
    }
  }
  // a job the broker does not know falls through to the handler, which answers E_NOT_FOUND
  set('CancelJob', guarded(h.CancelJob, policy, ({ jobId }, subject) => {
    let owner: string | null | undefined
    try { owner = broker.get(broker.resolveId(jobId)).owner } catch { return 'job.cancel.own' }
    return (owner ?? ANONYMOUS) === subject ? 'job.cancel.own' : 'job.cancel.any'
  }))
  // releasing, holding and requeueing a job are the owner's call as cancelling is: the same permissions
  const ownerCall = ({ jobId }: { jobId: string }, subject: string): Permission => {
    let owner: string | null | undefined
    try { owner = broker.get(broker.resolveId(jobId)).owner } catch { return 'job.cancel.own' }
    return (owner ?? ANONYMOUS) === subject ? 'job.cancel.own' : 'job.cancel.any'
  }
  set('ReleaseJob', guarded(h.ReleaseJob, policy, ownerCall))
  set('HoldJob', guarded(h.HoldJob, policy, ownerCall))
  set('CheckpointJob', guarded(h.CheckpointJob, policy, ownerCall))
  set('MigrateRank', guarded(h.MigrateRank, policy, ownerCall))
  set('ResizeJob', guarded(h.ResizeJob, policy, ownerCall))
  set('RequeueJob', guarded(h.RequeueJob, policy, ownerCall))
  return out
}

/** ApplyPolicy and GetPolicy of the Broker WSDL. */
export function policyHandlers (control: PolicyControl, nodePolicy?: (node: string, subject: string | undefined) => Promise<string>, extra?: () => Record<string, unknown>): BrokerHandlers {
  const policy = (): EffectivePolicy => control.effective
  return {
    ApplyPolicy: authorized(async (req) => {
      const r = await control.change({
        subject: req.subject ?? ANONYMOUS,
        ...(req.policyYaml !== undefined ? { text: req.policyYaml } : {}),
        ...(req.previous === true ? { previous: true } : {}),
        ...(req.version !== undefined ? { version: req.version } : {}),
        ...(req.dryRun === true ? { dryRun: true } : {}),
        ...(req.force === true ? { force: true } : {})
      })
      return { applied: r.applied, warnings: r.warnings, changes: r.changes, lostRights: r.lostRights }
    }, policy, () => 'policy.apply'),
    GetPolicy: authorized(async (req) => {
      if (req.history === true) return { policyJson: JSON.stringify({ version: control.changes, history: control.versions.describe() }) }
      if (req.node !== undefined && req.node !== '') {
        if (nodePolicy === undefined) throw new NotFoundError('GetPolicy node: this broker does not track its nodes\' policies')
        return { policyJson: await nodePolicy(req.node, req.subject) }
      }
      return { policyJson: JSON.stringify({ ...control.describe(), ...extra?.() }) }
    }, policy, () => 'policy.read')
  }
}
