import { componentLogger, type Logger } from '@mvm/core'
import type { EffectivePolicy } from '@mvm/model'
import type { MvmNode } from '@mvm/node'
import type { PeerAgentInit } from '@mvm/jobs'

export interface JobAgents { stop: () => Promise<void> }

/**
 * The composition root's job half: a super-peer gets the broker (virtual front-end), a peer
 * gets the agent that runs ranks. `@mvm/jobs` is imported only here, so a node with neither
 * role never loads it, and a peer loads the runtime itself only when the first job arrives.
 */
/**
 * Checks made before the node starts serving: a peer refuses to start with a sandbox driver
 * this machine cannot provide (e.g. `namespace` without root), with the reason, rather than
 * failing when the first job arrives.
 */
export async function preflightJobs (roles: readonly string[], policy: EffectivePolicy | undefined): Promise<void> {
  if (!roles.includes('peer') || policy === undefined) return
  const { resolveDriver } = await import('@mvm/sandbox')
  await resolveDriver(policy.spec.sandbox.driver)
}

export async function attachJobs (node: MvmNode, o: { dataDir: string, logger: Logger, policy: EffectivePolicy | undefined, policyFiles?: string[] }): Promise<JobAgents | undefined> {
  const isBroker = node.roles.includes('super-peer')
  const isPeer = node.roles.includes('peer')
  if (!isBroker && !isPeer) return undefined
  // `nodeLogsHandler` / `brokerLogsHandler` serve `mvm logs`: a peer its rank logs, the broker gathers them
  const { BrokerAgent, PeerAgent, authorized, nodeLogsHandler, brokerLogsHandler } = await import('@mvm/jobs')
  const spec = o.policy?.spec
  const stops: Array<() => Promise<void>> = []
  if (isPeer) {
    const init: PeerAgentInit = {
      dataDir: o.dataDir, streams: node.streams, logger: componentLogger(o.logger, 'runtime'),
      ...(spec !== undefined ? { driver: spec.sandbox.driver, poolSize: spec.sandbox.poolSize, poolMemoryMB: spec.sandbox.defaults.memoryMB } : {})
    }
    const agent = new PeerAgent(node, init)
    node.extendSoap({ Node: { GetLogs: nodeLogsHandler({ dataDir: o.dataDir }) } })
    const unhandle = node.control.handle('policyUpdate', (b, ctx) => { onPolicyUpdate(b.policyJson, ctx.peerId, init, spec === undefined, o.logger); return undefined })
    stops.push(async () => { unhandle(); await agent.stop() })
  }
  if (isBroker) {
    const agent = new BrokerAgent(node, {
      dataDir: o.dataDir, logger: componentLogger(o.logger, 'broker'),
      ...(o.policy !== undefined ? { policy: o.policy } : {}),
      ...(o.policyFiles !== undefined ? { policyFiles: o.policyFiles } : {})
    })
    await agent.start()
    const getJobLogs = brokerLogsHandler({ jobs: agent.broker, soapUrlOf: (p) => p === node.peerId ? node.soapUrl : node.membership.get(p)?.soapUrl })
    // a job's output is part of its result: the same permission guards both
    node.extendSoap({ Broker: { GetJobLogs: authorized(getJobLogs, () => agent.policy.effective, () => 'job.result') } })
    stops.push(async () => { await agent.stop() })
  }
  return { stop: async () => { for (const s of stops.reverse()) await s() } }
}

/**
 * A peer's side of a run-time policy change: logged, and kept as the sandbox defaults of the
 * runtime the next job loads (the PeerAgent reads its init when the first job awakens it).
 * A peer started with its own policy keeps it: the node level overrides the domain's.
 */
function onPolicyUpdate (json: string, from: string, init: PeerAgentInit, adopt: boolean, log: Logger): void {
  let p: { version?: number, spec?: EffectivePolicy['spec'] }
  try { p = JSON.parse(json) as typeof p } catch { log.warn({ from }, 'policyUpdate: policyJson is not JSON; ignored'); return }
  const sandbox = p.spec?.sandbox
  log.info({ from, version: p.version, strategy: p.spec?.scheduling?.strategy, driver: sandbox?.driver, adopted: adopt }, 'policy update received')
  if (adopt && sandbox !== undefined) {
    init.driver = sandbox.driver
    init.poolSize = sandbox.poolSize
  }
}
