import { join } from 'node:path'
import { componentLogger, silentLogger, type Logger, type Startable } from '@mvm/core'
import type { DataService, DataStore } from '@mvm/data'
import { DEFAULT_POLICY, type EffectivePolicy } from '@mvm/model'
import type { PeerRole } from '@mvm/peer'
import type { HttpGuard, SuperPeerRole } from '@mvm/super-peer'
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
  let closeAudit: (() => void) | undefined
  let data: NodeDataLayer | undefined
  const stopRoles = async (): Promise<void> => {
    // open event streams would hold the HTTP server's close
    closeWebView?.(); closeWebView = undefined
    closeAudit?.(); closeAudit = undefined
    const sp = superPeer; const p = peer; const d = data
    superPeer = undefined; peer = undefined; data = undefined
    await p?.stop()
    await sp?.stop()
    await d?.stop()
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
        if (isPeer || isSuperPeer) data = await startData(node, dataDir, init.policy, logger ?? silentLogger())
        const layer = data
        if (peerPkg !== undefined) {
          peer = peerPkg.createPeerRole(node, { ...opts, ...(layer !== undefined ? { data: layer } : {}) })
          await peer.start()
          peerMetrics(node, peer)
        }
        if (isSuperPeer) {
          const { createSuperPeerRole } = await import('@mvm/super-peer')
          superPeer = createSuperPeerRole(node, {
            ...opts,
            ...(init.policyFiles !== undefined ? { policyFiles: init.policyFiles } : {}),
            ...(layer !== undefined ? { data: { ...layer, self: () => ({ peerId: node.peerId, addrs: node.multiaddrs }), prefetchMaxBytes: dataPolicy(init.policy).prefetchMaxMB * MiB } } : {})
          })
          await superPeer.start()
          const sp = superPeer
          // the policy in force decides, so `mvm policy apply` can turn authentication on or off
          node.setClientAuthentication(() => sp.agent.policy.effective.spec.security.clientAuthentication === 'required')
          const { operationAuthorizer, httpGuard, openAuditLog } = await import('@mvm/super-peer')
          node.setSoapAuthorizer(operationAuthorizer(() => sp.agent.policy.effective))
          const audit = openAuditLog(dataDir, componentLogger(logger ?? silentLogger(), 'audit'))
          const stopAudit = node.onSoapCall(audit.observe)
          closeAudit = () => { stopAudit(); audit.close() }
          const guard = httpGuard(node.authenticate, () => sp.agent.policy.effective, audit)
          brokerMetrics(node, superPeer)
          closeWebView = await mountWebView(node, superPeer, logger ?? silentLogger(), guard)
          if (layer !== undefined) await mountData(node, layer, logger ?? silentLogger(), guard)
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

const MiB = 1024 * 1024

function dataPolicy (policy: EffectivePolicy | undefined): EffectivePolicy['spec']['data'] {
  return policy?.spec.data ?? DEFAULT_POLICY.data
}

interface NodeDataLayer { store: DataStore, service: DataService, stop: () => Promise<void> }

/**
 * Every node that runs or schedules jobs has a data store (its disk cache, bounded by policy
 * `data.cacheMB`) and serves /mvm/data/1.0.0 from it: peers fetch inputs from the super-peer
 * and from each other, the super-peer fetches outputs from peers.
 */
async function startData (node: MvmNode, dataDir: string, policy: EffectivePolicy | undefined, logger: Logger): Promise<NodeDataLayer> {
  const { createDataStore, createDataService } = await import('@mvm/data')
  const log = componentLogger(logger, 'data')
  const store = await createDataStore({ dir: join(dataDir, 'data', 'store'), maxBytes: dataPolicy(policy).cacheMB * MiB, log })
  const service = createDataService({ store, transport: node.streams, log })
  try { await service.start() } catch (err) { await store.close(); throw err }
  node.metrics.addDataSource(() => { const c = service.counters(); return { in: c.bytesIn, out: c.bytesOut } })
  return { store, service, stop: async () => { await service.stop(); await store.close() } }
}

/** Uploads and downloads for clients at /data on the SOAP server (bound where SOAP is: loopback by default). */
async function mountData (node: MvmNode, layer: NodeDataLayer, logger: Logger, guard: HttpGuard): Promise<void> {
  const { createDataHttp } = await import('@mvm/data')
  const http = createDataHttp({ store: layer.store, log: componentLogger(logger, 'data') })
  node.addHttpRoute('/data', async (req, res, url) => {
    // reading data is reading results; writing it is part of submitting work (as GetData / PutData)
    if (!guard(req, res, req.method === 'GET' || req.method === 'HEAD' ? 'job.result' : 'job.submit')) return
    if (await http.handle(req, res, url)) return
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'E_NOT_FOUND', message: `no data route ${url.pathname}` }))
  })
}

/** The live web view at /ui, on the SOAP server (so it binds where SOAP does: loopback by default). */
async function mountWebView (node: MvmNode, role: SuperPeerRole, logger: Logger, guard: HttpGuard): Promise<() => void> {
  const [{ createWebView }, { webSource }] = await Promise.all([import('@mvm/web'), import('@mvm/super-peer')])
  const view = createWebView({ source: webSource(node, role.agent), log: logger })
  // the view shows every job, its logs and the policy: listing jobs is the least it takes
  node.addHttpRoute('/ui', async (req, res, url) => { if (guard(req, res, 'job.list')) await view.handle(req, res, url) })
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
