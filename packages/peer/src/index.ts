/**
 * @packageDocumentation
 * The peer role: a node that runs job processes. {@link createPeerRole} attaches the
 * {@link PeerAgent} (runtime loaded on the first Awaken, ranks instantiated in sandboxes,
 * queue proxy to other nodes, rank reports back to the broker), the node-side `Node.GetLogs`
 * SOAP operation, and the handling of domain policy updates pushed by the super-peer.
 * Nothing here loads SQLite or the broker.
 *
 * @example
 * ```ts
 * const role = createPeerRole(node, { dataDir, logger })
 * await role.start()
 * // … jobs run …
 * await role.stop()
 * ```
 */
import { componentLogger, startableRole, type Logger, type Startable } from '@mvm/core'
import type { EffectivePolicy } from '@mvm/model'
import type { GetLogsRequest, GetLogsResponse, Handler } from '@mvm/soap'
import { PeerAgent, type PeerAgentInit, type PeerNode, type RuntimeFactory } from './peer-agent.js'
import type { NodeData } from './job-data.js'
import { nodeLogsHandler } from './logs-node.js'

export { PeerAgent, type PeerAgentInit, type PeerNode, type RuntimeFactory } from './peer-agent.js'
export type { NodeData } from './job-data.js'
export { nodeLogsHandler, runtimeLogDir } from './logs-node.js'

/** What the peer role needs of the node: the agent's needs plus SOAP and the queue streams. */
export interface PeerHost extends PeerNode {
  readonly streams: PeerAgentInit['streams']
  extendSoap: (handlers: { Node?: { GetLogs?: Handler<GetLogsRequest, GetLogsResponse> } }) => void
}

export interface PeerRoleInit {
  dataDir: string
  logger: Logger
  /** The node's own merged policy, if it was started with one: its sandbox section wins over domain updates. */
  policy?: EffectivePolicy
  /** The node's data layer, or how to open it at the first job with files (a peer-only node loads no store before). */
  data?: NodeData | (() => Promise<NodeData>)
  /** Replaces the sandboxed runtime (simulated ranks in `mvm sim`). */
  runtime?: RuntimeFactory
}

export interface PeerRole extends Startable {
  readonly agent: PeerAgent
}

export function createPeerRole (node: PeerHost, init: PeerRoleInit): PeerRole {
  const spec = init.policy?.spec
  const log = componentLogger(init.logger, 'runtime')
  const agent = new PeerAgent(node, {
    dataDir: init.dataDir, streams: node.streams, logger: log, ownPolicy: spec !== undefined,
    ...(init.data !== undefined ? { data: init.data } : {}),
    ...(init.runtime !== undefined ? { runtime: init.runtime } : {}),
    ...(spec !== undefined ? { driver: spec.sandbox.driver, poolSize: spec.sandbox.poolSize, poolMemoryMB: spec.sandbox.defaults.memoryMB, reuseForSameOwner: spec.sandbox.reuseForSameOwner } : {})
  })
  return startableRole(agent, () => {
    node.extendSoap({ Node: { GetLogs: nodeLogsHandler({ dataDir: init.dataDir }) } })
    return node.control.handle('policyUpdate', (b, ctx) => { onPolicyUpdate(b.policyJson, ctx.peerId, agent, init.logger); return undefined })
  })
}

function onPolicyUpdate (json: string, from: string, agent: PeerAgent, log: Logger): void {
  let p: { version?: number, spec?: EffectivePolicy['spec'] }
  try { p = JSON.parse(json) as typeof p } catch { log.warn({ from }, 'policyUpdate: policyJson is not JSON; ignored'); return }
  if (p === null || typeof p !== 'object') { log.warn({ from }, 'policyUpdate: policyJson is not an object; ignored'); return }
  const adopted = agent.adoptSandbox(p.spec?.sandbox)
  log.info({ from, version: p.version, strategy: p.spec?.scheduling?.strategy, driver: p.spec?.sandbox?.driver, adopted }, 'policy update received')
}

/**
 * Checks made before the node starts serving: a peer refuses to start with a sandbox driver
 * this machine cannot provide (e.g. `namespace` without root), with the reason, rather than
 * failing when the first job arrives.
 */
export async function preflightPeer (policy: EffectivePolicy | undefined): Promise<void> {
  if (policy === undefined) return
  const { resolveDriver } = await import('@mvm/sandbox')
  await resolveDriver(policy.spec.sandbox.driver)
}
