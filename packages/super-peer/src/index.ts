/**
 * @packageDocumentation
 * The super-peer role: the group's virtual front-end. {@link createSuperPeerRole} attaches the
 * {@link BrokerAgent} (durable broker core fed by membership and monitoring reports, control
 * protocol dispatch to peers, the job operations of the Broker WSDL), run-time policy control
 * (files watched, `ApplyPolicy`, propagation to the group's peers) and `GetJobLogs`, which
 * gathers rank logs from the peers a job ran on. Only a node with this role loads SQLite.
 *
 * @example
 * ```ts
 * const role = createSuperPeerRole(node, { dataDir, logger, policy, policyFiles: ['policies/domain-lab.yaml'] })
 * await role.start()
 * await role.agent.policy.applyYaml(yamlText) // e.g. scheduling.strategy: pack, for the next decision
 * ```
 */
import { componentLogger, startableRole, type Logger, type Startable } from '@mvm/core'
import type { EffectivePolicy } from '@mvm/model'
import { BrokerAgent, type BrokerAgentInit, type SuperPeerNode } from './broker-agent.js'
import { brokerLogsHandler, peerSoapUrl } from './logs-broker.js'
import { authorized, readGuard } from './policy-soap.js'
import type { BrokerData } from './job-data.js'
import { brokerDataHandlers } from './data-soap.js'
import { tenantData } from './data-tenants.js'

export { BrokerAgent, type BrokerAgentInit, type SuperPeerNode } from './broker-agent.js'
export { PolicyControl, type PolicyEffects, type PolicyChange } from './policy-control.js'
export { webSource } from './web-source.js'
export { httpGuard, type HttpGuard } from './http-access.js'
export { openAuditLog, readAuditLog, AUDIT_FILE, AUDITED, type AuditEntry, type AuditLog } from './audit.js'
export { OPERATION_ACCESS, operationAuthorizer, type Access } from './operation-access.js'
export { outputPin, inputPin, type BrokerData } from './job-data.js'
export { brokerDataHandlers, USER_PIN, type DataHandlerOptions } from './data-soap.js'
export { createDataAccess, DATA_OWNERS_FILE, type DataAccess } from './data-access.js'

/** What the role needs of the node beyond the agent's needs: its own SOAP address. */
export interface SuperPeerHost extends SuperPeerNode {
  readonly peerId: string
  readonly soapUrl: string
}

export interface SuperPeerRoleInit {
  dataDir: string
  logger: Logger
  policy?: EffectivePolicy
  policyFiles?: string[]
  /** The node's data layer (job inputs bound to its store, outputs fetched into it). */
  data?: BrokerData
  /** The node's own peer part, if it has the peer role too (see {@link BrokerAgentInit.localPeer}). */
  localPeer?: BrokerAgentInit['localPeer']
  /** See {@link BrokerAgentInit.replicated}: a standby's copy, awaited before a submission is answered. */
  replicated?: BrokerAgentInit['replicated']
}

export interface SuperPeerRole extends Startable {
  readonly agent: BrokerAgent
}

export function createSuperPeerRole (node: SuperPeerHost, init: SuperPeerRoleInit): SuperPeerRole {
  const agent = new BrokerAgent(node, {
    dataDir: init.dataDir, logger: componentLogger(init.logger, 'broker'),
    ...(init.policy !== undefined ? { policy: init.policy } : {}),
    ...(init.policyFiles !== undefined ? { policyFiles: init.policyFiles } : {}),
    ...(init.data !== undefined ? { data: init.data } : {}),
    ...(init.localPeer !== undefined ? { localPeer: init.localPeer } : {}),
    ...(init.replicated !== undefined ? { replicated: init.replicated } : {})
  })
  return startableRole(agent, () => {
    const ownLogs = brokerLogsHandler({ jobs: agent.broker, soapUrlOf: peerSoapUrl(node) })
    // a job this broker passed on to another group: its logs are read where it runs
    const getJobLogs: typeof ownLogs = async (req, ctx) => {
      const cross = agent.crossGroup
      if (cross === undefined) return await ownLogs(req, ctx)
      return await cross.follow(ownLogs as never, async (c, r: typeof req) => await c.GetJobLogs(r, { timeoutMs: 30_000 }))(req, ctx as never)
    }
    // a job's output is part of its result: the same permission guards both
    const policy = (): EffectivePolicy => agent.policy.effective
    node.extendSoap({ Broker: { GetJobLogs: authorized(readGuard(getJobLogs, agent.broker, policy, (r) => [r.jobId]), policy, () => 'job.result') } })
    if (init.data !== undefined) {
      const data = tenantData(brokerDataHandlers(init.data.store), agent.dataAccess, init.data.store)
      // uploading and removing data is part of submitting work; reading it, of reading results
      node.extendSoap({
        Broker: {
          PutData: authorized(data.PutData!, policy, () => 'job.submit'),
          GetData: authorized(data.GetData!, policy, () => 'job.result'),
          ListData: authorized(data.ListData!, policy, () => 'job.result'),
          RemoveData: authorized(data.RemoveData!, policy, () => 'job.submit')
        }
      })
    }
    return undefined
  })
}
