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
import { PeerPolicy, policyFilesOf, type NodePolicyState } from './peer-policy.js'

export { PeerAgent, type PeerAgentInit, type PeerNode, type RuntimeFactory } from './peer-agent.js'
export type { NodeData } from './job-data.js'
export { nodeLogsHandler, runtimeLogDir } from './logs-node.js'
export { PeerPolicy, type NodePolicyState } from './peer-policy.js'

/** What the peer role needs of the node: the agent's needs plus SOAP and the queue streams. */
export interface PeerHost extends PeerNode {
  readonly streams: PeerAgentInit['streams']
  extendSoap: (handlers: { Node?: { GetLogs?: Handler<GetLogsRequest, GetLogsResponse> } }) => void
  /** The node's heartbeat links: a push saying a new interval (`heartbeatMs`) is followed at once. */
  readonly heartbeats?: { follow: (superPeerId: string, heartbeatMs: number) => boolean }
}

export interface PeerRoleInit {
  dataDir: string
  logger: Logger
  /** The node's own merged policy, if it was started with one: its sandbox section wins over domain updates. */
  policy?: EffectivePolicy
  /** The files behind `policy` (default: every file that set something in it), traced per setting. */
  policyFiles?: string[]
  /** The node's group (what its policy state names before the first push). */
  group?: string
  /** The node's labels, which a policy's `scope` may name. */
  labels?: Record<string, string>
  /**
   * Whether this role takes policy pushes from the control protocol itself (default true). A node
   * that is also a super-peer hands them over from its broker instead (one handler per message type).
   */
  policyUpdates?: boolean
  /** The node's data layer, or how to open it at the first job with files (a peer-only node loads no store before). */
  data?: NodeData | (() => Promise<NodeData>)
  /** Replaces the sandboxed runtime (simulated ranks in `mvm sim`). */
  runtime?: RuntimeFactory
}

export interface PeerRole extends Startable {
  readonly agent: PeerAgent
  readonly policy: PeerPolicy
  /** A policy push as a super-peer sends it (JSON); returns the node's state, or undefined for an old-style push. */
  receivePolicy: (policyJson: string, from: string) => NodePolicyState | undefined
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
  const policy = new PeerPolicy(() => node.peerId, { adopt: (s) => { agent.adoptPolicySandbox(s) } }, init.logger)
  const receivePolicy = (json: string, from: string): NodePolicyState | undefined => onPolicyUpdate(json, from, agent, policy, init.logger)
  const role = startableRole(agent, () => {
    node.extendSoap({ Node: { GetLogs: nodeLogsHandler({ dataDir: init.dataDir }) } })
    if (init.policyUpdates === false) return undefined
    return node.control.handle('policyUpdate', (b, ctx) => {
      followHeartbeat(node, b.policyJson, ctx.peerId)
      const state = receivePolicy(b.policyJson, ctx.peerId)
      // the reply tells the super-peer what this node runs (`mvm policy show --effective --node`)
      return state === undefined ? undefined : { type: 'policyUpdate', policyJson: JSON.stringify(state) }
    })
  })
  const start = role.start.bind(role)
  let loaded = false
  return Object.assign(role, {
    policy,
    receivePolicy,
    async start () {
      if (!loaded) {
        loaded = true
        try {
          await policy.load(init.policyFiles ?? policyFilesOf(init.policy), init.group ?? '', { labels: init.labels ?? {} })
        } catch (err) { init.logger.warn({ err: (err as Error).message }, 'the node\'s policy files could not be read again for tracing; its policy shows as defaults until the first push') }
      }
      await start()
    }
  })
}

/** The super-peer's push says the interval its members beat at: the link to it follows (see @mvm/super-peer heartbeat-timing). */
function followHeartbeat (node: PeerHost, json: string, from: string): void {
  if (node.heartbeats === undefined) return
  let ms: unknown
  try { ms = (JSON.parse(json) as { heartbeatMs?: unknown } | null)?.heartbeatMs } catch { return }
  if (typeof ms === 'number' && Number.isFinite(ms)) node.heartbeats.follow(from, ms)
}

function onPolicyUpdate (json: string, from: string, agent: PeerAgent, policy: PeerPolicy, log: Logger): NodePolicyState | undefined {
  let p: { version?: number, group?: string, spec?: EffectivePolicy['spec'], layers?: unknown }
  try { p = JSON.parse(json) as typeof p } catch { log.warn({ from }, 'policyUpdate: policyJson is not JSON; ignored'); return undefined }
  if (p === null || typeof p !== 'object') { log.warn({ from }, 'policyUpdate: policyJson is not an object; ignored'); return undefined }
  if (Array.isArray(p.layers) && typeof p.version === 'number') {
    return policy.receive({ version: p.version, layers: p.layers, ...(typeof p.group === 'string' ? { group: p.group } : {}) }, from)
  }
  // an older super-peer sends only the merged spec: its sandbox part, unless the node has its own policy
  const adopted = agent.adoptSandbox(p.spec?.sandbox)
  log.info({ from, version: p.version, strategy: p.spec?.scheduling?.strategy, driver: p.spec?.sandbox?.driver, adopted }, 'policy update received')
  return undefined
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
