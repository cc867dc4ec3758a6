import { componentLogger, type Logger } from '@mvm/core'
import type { EffectivePolicy } from '@mvm/model'
import type { MvmNode } from '@mvm/node'

export interface JobAgents { stop: () => Promise<void> }

/**
 * The composition root's job half: a super-peer gets the broker (virtual front-end), a peer
 * gets the agent that runs ranks. `@mvm/jobs` is imported only here, so a node with neither
 * role never loads it, and a peer loads the runtime itself only when the first job arrives.
 */
export async function attachJobs (node: MvmNode, o: { dataDir: string, logger: Logger, policy: EffectivePolicy | undefined }): Promise<JobAgents | undefined> {
  const isBroker = node.roles.includes('super-peer')
  const isPeer = node.roles.includes('peer')
  if (!isBroker && !isPeer) return undefined
  const { BrokerAgent, PeerAgent } = await import('@mvm/jobs')
  const spec = o.policy?.spec
  const stops: Array<() => Promise<void>> = []
  if (isPeer) {
    const agent = new PeerAgent(node, {
      dataDir: o.dataDir, streams: node.streams, logger: componentLogger(o.logger, 'runtime'),
      ...(spec !== undefined ? { driver: spec.sandbox.driver, poolSize: spec.sandbox.poolSize } : {})
    })
    stops.push(async () => { await agent.stop() })
  }
  if (isBroker) {
    const agent = new BrokerAgent(node, {
      dataDir: o.dataDir, logger: componentLogger(o.logger, 'broker'),
      ...(spec !== undefined
        ? { strategy: { type: spec.scheduling.strategy, options: spec.scheduling.options ?? {} }, faultTolerance: { recovery: spec.faultTolerance.recovery, maxRestarts: spec.faultTolerance.maxRestarts } }
        : {})
    })
    await agent.start()
    stops.push(async () => { await agent.stop() })
  }
  return { stop: async () => { for (const s of stops.reverse()) await s() } }
}
