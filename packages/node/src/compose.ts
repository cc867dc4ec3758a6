import { silentLogger, type Logger, type Startable } from '@mvm/core'
import type { EffectivePolicy } from '@mvm/model'
import type { PeerRole } from '@mvm/peer'
import type { SuperPeerRole } from '@mvm/super-peer'
import type { MvmNodeInit } from './init.js'
import type { MvmNode } from './index.js'

export interface MvmHostInit extends MvmNodeInit {
  /** The node's merged policy (node level over domain and inter-domain). */
  policy?: EffectivePolicy
  /** The files behind `policy`: a super-peer watches them and applies edits at run time. */
  policyFiles?: string[]
}

/** A whole MVM node: the overlay plus the job machinery of each role it holds. */
export interface MvmHost extends Startable {
  readonly node: MvmNode
  /** Present on a node with the super-peer role, once started. */
  readonly superPeer: SuperPeerRole | undefined
  /** Present on a node with the peer role, once started. */
  readonly peer: PeerRole | undefined
}

/**
 * The composition root every entry point uses (CLI, `mvm lab`, bench, tests, embedders).
 * Each role's package is imported only when the node holds that role, so a peer-only node
 * never loads SQLite or the broker, and a bootstrap-only node loads no job machinery at all.
 */
export function composeHost (init: MvmHostInit, create: (init: MvmNodeInit) => MvmNode): MvmHost {
  const node = create(init)
  let superPeer: SuperPeerRole | undefined
  let peer: PeerRole | undefined
  const dataDir = init.dataDir
  const logger = init.logger
  let closeWebView: (() => void) | undefined
  const stopRoles = async (): Promise<void> => {
    // open event streams would hold the HTTP server's close
    closeWebView?.(); closeWebView = undefined
    const sp = superPeer; const p = peer
    superPeer = undefined; peer = undefined
    await p?.stop()
    await sp?.stop()
  }
  return {
    node,
    get superPeer () { return superPeer },
    get peer () { return peer },
    isStarted: () => node.isStarted(),
    async start () {
      if (node.isStarted()) return
      const isPeer = node.roles.includes('peer')
      const isSuperPeer = node.roles.includes('super-peer')
      const peerPkg = isPeer ? await import('@mvm/peer') : undefined
      await peerPkg?.preflightPeer(init.policy)
      try {
        await node.start()
        const opts = { dataDir, logger: logger ?? silentLogger(), ...(init.policy !== undefined ? { policy: init.policy } : {}) }
        if (peerPkg !== undefined) {
          peer = peerPkg.createPeerRole(node, opts)
          await peer.start()
          peerMetrics(node, peer)
        }
        if (isSuperPeer) {
          const { createSuperPeerRole } = await import('@mvm/super-peer')
          superPeer = createSuperPeerRole(node, { ...opts, ...(init.policyFiles !== undefined ? { policyFiles: init.policyFiles } : {}) })
          await superPeer.start()
          brokerMetrics(node, superPeer)
          closeWebView = await mountWebView(node, superPeer, logger ?? silentLogger())
        }
      } catch (err) {
        // a half-started node (listener, SOAP server) would keep the process alive after the error
        await stopRoles().catch(() => {})
        await node.stop().catch(() => {})
        throw err
      }
    },
    async stop () {
      await stopRoles()
      await node.stop()
    }
  }
}

/** The live web view at /ui, on the SOAP server (so it binds where SOAP does: loopback by default). */
async function mountWebView (node: MvmNode, role: SuperPeerRole, logger: Logger): Promise<() => void> {
  const [{ createWebView }, { webSource }] = await Promise.all([import('@mvm/web'), import('@mvm/super-peer')])
  const view = createWebView({ source: webSource(node, role.agent), log: logger })
  node.addHttpRoute('/ui', async (req, res, url) => { await view.handle(req, res, url) })
  return () => { view.close() }
}

function peerMetrics (node: MvmNode, peer: PeerRole): void {
  const agent = peer.agent
  node.metrics.setPeer({
    ranksRunning: () => node.processes.size,
    pool: () => {
      const p = agent.poolStats()
      return p === undefined ? undefined : { idle: p.idle, starting: p.starting, active: p.active, parked: p.parked }
    }
  })
  node.metrics.addDataSource(() => ({ in: agent.bytesReceived, out: 0 }))
  // the same counts the heartbeat carries to the super-peer's web view
  node.metrics.setQueueStats(() => agent.portStats())
}

/** Queue-to-running latency comes from the broker's job events; queued-since is kept per job until it runs or ends. */
function brokerMetrics (node: MvmNode, sp: SuperPeerRole): void {
  const broker = sp.agent.broker
  node.metrics.setBroker({ jobsByState: () => broker.countByState() })
  node.metrics.addDataSource(() => ({ in: 0, out: sp.agent.bytesSent }))
  const queuedAt = new Map<string, number>()
  broker.on('job', (e) => {
    if (e.kind !== 'state') return
    if (e.state === 'queued') { queuedAt.set(e.jobId, e.at); return }
    if (e.state === 'running') {
      const since = queuedAt.get(e.jobId) ?? tryCreatedAt(broker, e.jobId)
      if (since !== undefined) node.metrics.scheduled((e.at - since) / 1000)
    }
    if (e.state !== 'scheduled') queuedAt.delete(e.jobId)
  })
}

function tryCreatedAt (broker: SuperPeerRole['agent']['broker'], jobId: string): number | undefined {
  try { return broker.get(jobId).createdAt } catch { return undefined }
}
