import { NotFoundError } from '@mvm/core'
import type { BootstrapHandlers, BrokerHandlers, NodeHandlers, NodeInfo, NodeStatus, ServiceHandlers } from '@mvm/soap'
import type { BootstrapService } from './bootstrap-service.js'
import type { Membership } from './membership.js'
import type { ProcessTable } from './process-table.js'
import type { ControlRouter } from './control-router.js'
import type { MemberInfo } from './types.js'

export interface SoapServicesInit {
  bootstrap: BootstrapService | undefined
  membership: Membership | undefined
  processes: ProcessTable
  router: ControlRouter
  peerId: string
  status: () => NodeStatus
}

/**
 * The handler objects given to the SOAP server. They are plain mutable objects looked up per
 * call, so the lead's broker can add SubmitJob & co. later with `extendSoap` without a restart.
 */
export function buildSoapServices (init: SoapServicesInit): Required<ServiceHandlers> & { mounted: Array<keyof ServiceHandlers> } {
  const Node: NodeHandlers = {
    GetStatus: async () => init.status(),
    Awaken: async ({ jobId }) => {
      // nothing to wake until the job machinery registers its handler
      if (init.router.has('awaken')) await init.router.dispatch({ type: 'awaken', jobId }, { peerId: init.peerId, notification: false, signal: AbortSignal.timeout(30_000) })
      return { ok: true }
    },
    Terminate: async ({ jobId }) => {
      const stopped = init.processes.list(jobId).length
      if (init.router.has('terminate')) await init.router.dispatch({ type: 'terminate', jobId, reason: 'Node.Terminate' }, { peerId: init.peerId, notification: false, signal: AbortSignal.timeout(30_000) })
      init.processes.dropJob(jobId)
      return { ok: true, stopped }
    },
    ListProcesses: async () => ({ processes: init.processes.list() })
  }
  const Bootstrap: BootstrapHandlers = {}
  const Broker: BrokerHandlers = {}
  const mounted: Array<keyof ServiceHandlers> = ['Node']
  const b = init.bootstrap
  if (b !== undefined) {
    mounted.push('Bootstrap')
    Bootstrap.GetBrokers = async ({ group }) => ({
      brokers: b.brokers(group).map(({ expiresAt, ...r }) => r)
    })
    Bootstrap.RegisterSuperPeer = async (req) => b.register(req)
  }
  const m = init.membership
  if (m !== undefined) {
    mounted.push('Broker')
    Broker.ListNodes = async ({ group }) => ({ nodes: m.view({ group }).map(toNodeInfo) })
    Broker.GetNode = async ({ peerId }) => {
      const n = m.get(peerId)
      if (n === undefined) throw new NotFoundError(`no node ${peerId} in this super-peer's view`)
      return toNodeInfo(n)
    }
    if (b !== undefined) {
      Bootstrap.GetResources = async ({ group, labels, minFreeSlots }) => ({
        nodes: m.view({ group }).filter((n) => n.state === 'up' &&
          n.report.freeSlots >= (minFreeSlots ?? 0) &&
          Object.entries(labels ?? {}).every(([k, v]) => n.labels[k] === v)).map(toNodeInfo)
      })
    }
  }
  return { Node, Bootstrap, Broker, mounted }
}

/**
 * ListNodes and GetNode with each node's drain state (`draining`/`drained`), which the broker of
 * a super-peer knows and the membership view does not.
 */
export function drainAwareNodeOps (m: { view: (o?: { group?: string }) => MemberInfo[], get: (peerId: string) => MemberInfo | undefined }, drainOf: (peerId: string) => NodeInfo['drain']): Pick<BrokerHandlers, 'ListNodes' | 'GetNode'> {
  const info = (n: MemberInfo): NodeInfo => {
    const out = toNodeInfo(n)
    const d = drainOf(n.peerId)
    return d === undefined ? out : { ...out, drain: d }
  }
  return {
    ListNodes: async ({ group }) => ({ nodes: m.view({ group }).map(info) }),
    GetNode: async ({ peerId }) => {
      const n = m.get(peerId)
      if (n === undefined) throw new NotFoundError(`no node ${peerId} in this super-peer's view`)
      return info(n)
    }
  }
}

export function toNodeInfo (n: MemberInfo): NodeInfo {
  const out: NodeInfo = {
    peerId: n.peerId,
    group: n.group,
    roles: n.roles,
    state: n.state,
    load: n.report.load,
    totalSlots: n.report.totalSlots,
    freeSlots: n.report.freeSlots,
    freeMemoryMB: n.report.freeMemoryMb,
    processes: n.report.processes,
    queueDepth: n.report.queueDepth,
    lastSeen: new Date(n.lastSeen).toISOString(),
    labels: n.labels
  }
  if (n.soapUrl !== '') out.soapUrl = n.soapUrl
  if (n.report.data !== undefined && n.report.data !== null) out.data = { ...n.report.data }
  return out
}
