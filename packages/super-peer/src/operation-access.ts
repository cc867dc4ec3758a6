import type { EffectivePolicy } from '@mvm/model'
import { ForbiddenError } from '@mvm/core'
import type { ServiceName, SoapAuthorize } from '@mvm/soap'
import { authorize, type Permission } from './policy-auth.js'
import { subjectOf } from './policy-soap.js'

/**
 * What each SOAP operation needs. `handler`: the handler's own wrapper checks it, because the
 * permission depends on the request (cancelling one's own job or another's, each profile's
 * owner); `open`: anyone who reached the node. An operation missing here is refused: a new
 * operation cannot go out unguarded by accident.
 */
export type Access = Permission | 'handler' | 'open'

export const OPERATION_ACCESS: Record<ServiceName, Record<string, Access>> = {
  // clients find their broker here, and remote super-peers register (peer admission guards the overlay)
  Bootstrap: { GetBrokers: 'open', RegisterSuperPeer: 'open', GetResources: 'node.list' },
  Node: { GetStatus: 'node.list', ListProcesses: 'node.list', Awaken: 'node.awaken', Terminate: 'node.terminate', GetLogs: 'job.result' },
  Broker: {
    ListNodes: 'node.list',
    GetNode: 'node.list',
    SubmitJob: 'handler',
    SubmitJobs: 'handler',
    GetJob: 'handler',
    ListJobs: 'handler',
    ListHistory: 'handler',
    WaitJob: 'handler',
    WaitJobs: 'handler',
    GetJobResult: 'handler',
    GetJobLogs: 'handler',
    CancelJob: 'handler',
    ReleaseJob: 'handler',
    HoldJob: 'handler',
    CheckpointJob: 'handler',
    // the owner's call (job.cancel.own/any), as checkpointing is
    MigrateRank: 'handler',
    // policy.apply, checked by their handlers: a drain moves everyone's ranks
    DrainNode: 'handler',
    ResumeNode: 'handler',
    ResizeJob: 'handler',
    RequeueJob: 'handler',
    ApplyPolicy: 'handler',
    GetPolicy: 'handler',
    PutData: 'handler',
    GetData: 'handler',
    ListData: 'handler',
    RemoveData: 'handler',
    // policy.apply, checked by its handler (a reservation takes slots from everyone else)
    Reserve: 'handler'
  }
}

/** The check a super-peer runs before every SOAP operation, against the policy in force at the call. */
export function operationAuthorizer (policy: () => EffectivePolicy): SoapAuthorize {
  return ({ service, operation, request, caller }) => {
    const access = Object.hasOwn(OPERATION_ACCESS[service], operation) ? OPERATION_ACCESS[service][operation] : undefined
    if (access === undefined) throw new ForbiddenError(`${service}.${operation} has no access rule on this node; refused`)
    if (access === 'open' || access === 'handler') return
    // these requests name no subject: an unsigned caller (allowed only while authentication is
    // not required) is nobody in particular, and they went unchecked before authentication existed
    if (caller.user === undefined) return
    const p = policy()
    authorize(p, subjectOf(request, { remoteAddress: '', caller }, p), access)
  }
}
