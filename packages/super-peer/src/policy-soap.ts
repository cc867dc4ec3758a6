import { NotFoundError } from '@mvm/core'
import type { Broker } from '@mvm/broker'
import type { BrokerHandlers, Handler } from '@mvm/soap'
import type { EffectivePolicy } from '@mvm/model'
import { ANONYMOUS, authorize, type Permission } from './policy-auth.js'
import type { PolicyControl } from './policy-control.js'

/**
 * Who is asking: SubmitJob names it as the job's `owner`, the other Broker operations in their
 * optional `subject`; a request with neither acts as {@link ANONYMOUS}.
 */
function subjectOf (req: unknown): string {
  const r = req as { owner?: unknown, subject?: unknown } | undefined
  for (const v of [r?.subject, r?.owner]) if (typeof v === 'string' && v !== '') return v
  return ANONYMOUS
}

/** A SOAP handler that first checks the caller's permission against the policy in force at the call. */
export function authorized<Req, Res> (h: Handler<Req, Res>, policy: () => EffectivePolicy, permission: (req: Req, subject: string) => Permission): Handler<Req, Res> {
  return async (req, ctx) => {
    const subject = subjectOf(req)
    authorize(policy(), subject, permission(req, subject))
    return await h(req, ctx)
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
  set('GetJob', guarded(h.GetJob, policy, () => 'job.status'))
  set('ListJobs', guarded(h.ListJobs, policy, () => 'job.list'))
  set('ListHistory', guarded(h.ListHistory, policy, () => 'job.list'))
  set('GetJobResult', guarded(h.GetJobResult, policy, () => 'job.result'))
  set('WaitJob', guarded(h.WaitJob, policy, () => 'job.status'))
  set('WaitJobs', guarded(h.WaitJobs, policy, () => 'job.status'))
  // each submission names its own owner: every one must be allowed to submit
  const many = h.SubmitJobs
  if (many !== undefined) {
    out.SubmitJobs = async (req, ctx) => {
      for (const j of req.jobs) authorize(policy(), j.owner !== undefined && j.owner !== '' ? j.owner : ANONYMOUS, 'job.submit')
      return await many(req, ctx)
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
  set('RequeueJob', guarded(h.RequeueJob, policy, ownerCall))
  return out
}

/** ApplyPolicy and GetPolicy of the Broker WSDL. */
export function policyHandlers (control: PolicyControl, nodePolicy?: (node: string, subject: string | undefined) => Promise<string>, extra?: () => Record<string, unknown>): BrokerHandlers {
  const policy = (): EffectivePolicy => control.effective
  return {
    ApplyPolicy: authorized(async (req) => {
      const r = await control.change({
        subject: subjectOf(req),
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
