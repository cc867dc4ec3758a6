import { join } from 'node:path'
import { componentLogger, silentLogger, type Logger, type Startable } from '@mvm/core'
import type { DataService, DataStore, EnvironmentCache, EnvironmentCounters, EnvironmentRegistry, Holder } from '@mvm/data'
import type { DataCounters } from '@mvm/wire'
import { DEFAULT_POLICY, type EffectivePolicy } from '@mvm/model'
import type { PeerRole, RuntimeFactory } from '@mvm/peer'
import type { DataAccess, HttpGuard, SuperPeerRole } from '@mvm/super-peer'
import { DEFAULTS, type MvmNodeInit } from './init.js'
import { ReplicaServer } from './replica.js'
import type { MvmNode } from './index.js'
import { drainAwareNodeOps } from './soap-services.js'

export interface MvmHostInit extends MvmNodeInit {
  /** The node's merged policy (node level over domain and inter-domain). */
  policy?: EffectivePolicy
  /** The files behind `policy`: a super-peer watches them and applies edits at run time. */
  policyFiles?: string[]
  /** A peer's runtime in place of sandboxed processes: `mvm sim` passes simulated ranks. */
  runtime?: RuntimeFactory
  /**
   * `false`: no data layer (no disk cache, no /mvm/data protocol); jobs with inputs or outputs
   * are then refused by the peer. `mvm sim` peers run this way: thousands of stores would not fit.
   */
  data?: false
  /** A standby super-peer (`standby: true`): told once it has taken its group over, with the node it now runs as. */
  onTakeover?: (node: MvmNode) => void
  /** A standby whose takeover failed (e.g. its SOAP port was taken meanwhile): it no longer runs any node. */
  onTakeoverError?: (err: unknown) => void
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
  let replica: ReplicaServer | undefined
  let data: NodeDataLayer | undefined
  let opening: Promise<NodeDataLayer> | undefined
  const stopRoles = async (): Promise<void> => {
    // open event streams would hold the HTTP server's close
    closeWebView?.(); closeWebView = undefined
    closeAudit?.(); closeAudit = undefined
    const sp = superPeer; const p = peer; const o = opening
    superPeer = undefined; peer = undefined; opening = undefined
    await replica?.stop(); replica = undefined
    await p?.stop()
    await sp?.stop()
    // a store still opening is closed once open
    const d = data ?? await o?.catch(() => undefined)
    data = undefined
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
        // a super-peer's store is its group's cache and serves uploads: open now; a peer-only
        // node opens its store (and loads SQLite) at its first job with files; `mvm sim` runs none
        if (isSuperPeer && init.data !== false) data = await startData(node, dataDir, init.policy, logger ?? silentLogger())
        const layer = data
        const openData = async (): Promise<NodeDataLayer> => {
          if (data !== undefined) return data
          opening ??= startData(node, dataDir, init.policy, logger ?? silentLogger()).then((d) => { data = d; return d }, (err: unknown) => { opening = undefined; throw err })
          return await opening
        }
        // until it opens, the heartbeat says so: nothing moved, nothing stored
        if (layer === undefined) node.monitor.setDataProbe(() => ({ ...NO_DATA, maxBytes: dataPolicy(init.policy).cacheMB * MiB }))
        if (peerPkg !== undefined) {
          peer = peerPkg.createPeerRole(node, {
            ...opts,
            group: node.group,
            labels: node.status().labels,
            ...(init.policyFiles !== undefined ? { policyFiles: init.policyFiles } : {}),
            // a super-peer node takes policy pushes in its broker and hands them to its peer part
            policyUpdates: !isSuperPeer,
            ...(init.data !== false ? { data: layer ?? openData } : {}),
            ...(init.runtime !== undefined ? { runtime: init.runtime } : {})
          })
          await peer.start()
          peerMetrics(node, peer)
          // a peer-only node follows the policy its super-peer pushes (a super-peer node, its own below)
          const own = peer
          if (!isSuperPeer) node.setClientAuthentication(() => own.policy.effective.spec.security.clientAuthentication === 'required')
        }
        if (isSuperPeer) {
          const { createSuperPeerRole } = await import('@mvm/super-peer')
          const own = peer
          // a standby super-peer follows the broker's store over libp2p (see replica.ts)
          const hb = init.monitoring?.heartbeatMs ?? DEFAULTS.heartbeatMs
          const rs = new ReplicaServer({ streams: node.streams, source: () => superPeer?.agent.broker, heartbeatMs: hb, log: componentLogger(logger ?? silentLogger(), 'replica') })
          replica = rs
          await rs.start()
          const replicaWaitMs = Math.max(2000, 2 * hb * (init.monitoring?.missedHeartbeats ?? DEFAULTS.missedHeartbeats))
          superPeer = createSuperPeerRole(node, {
            ...opts,
            replicated: async () => { await rs.replicated(replicaWaitMs) },
            ...(own !== undefined
              ? { localPeer: { peerId: () => node.peerId, receive: (json: string) => { const st = own.receivePolicy(json, node.peerId); return st === undefined ? undefined : JSON.stringify(st) } } }
              : {}),
            ...(init.policyFiles !== undefined ? { policyFiles: init.policyFiles } : {}),
            ...(layer !== undefined ? { data: { ...layer, self: () => ({ peerId: node.peerId, addrs: node.multiaddrs }), prefetchMaxBytes: dataPolicy(init.policy).prefetchMaxMB * MiB, environments: layer.registry, upstream: () => parentHolder(node) } } : {})
          })
          await superPeer.start()
          const sp = superPeer
          // ListNodes/GetNode show the broker's drains
          node.extendSoap({ Broker: drainAwareNodeOps(node.membership, (p) => sp.agent.drainState(p)) })
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
          if (layer !== undefined) await mountData(node, layer, logger ?? silentLogger(), guard, sp.agent.dataAccess)
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
const NO_DATA: DataCounters = { bytesIn: 0, bytesOut: 0, chunksIn: 0, chunksOut: 0, hits: 0, misses: 0, dedupChunks: 0, zeroChunks: 0, corrupt: 0, evictions: 0, storedBytes: 0, maxBytes: 0, envBuilds: 0, envReused: 0, envWritten: 0 }

function dataPolicy (policy: EffectivePolicy | undefined): EffectivePolicy['spec']['data'] {
  return policy?.spec.data ?? DEFAULT_POLICY.data
}

interface NodeDataLayer {
  store: DataStore
  service: DataService
  /** Golden environments: built here when this node is a super-peer, written out here when it runs ranks. */
  environments: EnvironmentCache
  registry: EnvironmentRegistry
  env: EnvironmentCounters
  stop: () => Promise<void>
}

/**
 * Every node that runs or schedules jobs has a data store (its disk cache, bounded by policy
 * `data.cacheMB`) and serves /mvm/data/1.0.0 from it: peers fetch inputs from the super-peer
 * and from each other, the super-peer fetches outputs from peers.
 */
async function startData (node: MvmNode, dataDir: string, policy: EffectivePolicy | undefined, logger: Logger): Promise<NodeDataLayer> {
  const { createDataStore, createDataService, createEnvironmentCache, createEnvironmentRegistry, newEnvironmentCounters } = await import('@mvm/data')
  const log = componentLogger(logger, 'data')
  const store = await createDataStore({ dir: join(dataDir, 'data', 'store'), maxBytes: dataPolicy(policy).cacheMB * MiB, log })
  // a store holds several users' files: only the group's admitted members fetch from it
  const service = createDataService({ store, transport: node.streams, log, self: node.peerId, upstream: () => parentHolder(node), mayServe: async (peer) => await node.isGroupPeer(peer) })
  try { await service.start() } catch (err) { await store.close(); throw err }
  node.metrics.addDataSource(() => { const c = service.counters(); return { in: c.bytesIn, out: c.bytesOut } })
  const env = newEnvironmentCounters()
  const environments = createEnvironmentCache({ store, service, dir: join(dataDir, 'data', 'envs'), counters: env, log })
  const registry = createEnvironmentRegistry({ store, dir: join(dataDir, 'data', 'env-builds'), counters: env, log })
  node.monitor.setDataProbe(() => dataCounters(store, service, env))
  return { store, service, environments, registry, env, stop: async () => { node.monitor.setDataProbe(undefined); await service.stop(); await store.close() } }
}

/**
 * A child group's super-peer fills its store from its parent's: chunks a peer asks for and this
 * store lacks are fetched there once (the parent is dialled over the link it already has).
 */
function parentHolder (node: MvmNode): Holder[] {
  if (!node.roles.includes('super-peer')) return []
  const link = node.parentLink()
  return link?.state === 'joined' && link.superPeerId !== undefined ? [{ peerId: link.superPeerId, addrs: [] }] : []
}

/** What the heartbeat carries of the data layer (and `mvm nodes --json` shows). */
function dataCounters (store: DataStore, service: DataService, env: EnvironmentCounters): DataCounters {
  const c = service.counters()
  const s = store.stats()
  return {
    bytesIn: c.bytesIn,
    bytesOut: c.bytesOut,
    chunksIn: c.chunksIn,
    chunksOut: c.chunksOut,
    hits: s.hits,
    misses: s.misses,
    dedupChunks: s.dedupChunks + c.dedupSkipped,
    zeroChunks: s.zeroChunks + c.zeroSkipped,
    corrupt: s.corrupt + c.corruptReceived,
    evictions: s.evictions,
    storedBytes: s.bytes,
    maxBytes: s.maxBytes,
    envBuilds: env.builds,
    envReused: env.reused,
    envWritten: env.written
  }
}

/** Uploads and downloads for clients at /data on the SOAP server (bound where SOAP is: loopback by default). */
async function mountData (node: MvmNode, layer: NodeDataLayer, logger: Logger, guard: HttpGuard, access: DataAccess | undefined): Promise<void> {
  const { createDataHttp } = await import('@mvm/data')
  const http = createDataHttp({ store: layer.store, log: componentLogger(logger, 'data') })
  node.addHttpRoute('/data', async (req, res, url) => {
    // reading data is reading results; writing it is part of submitting work (as GetData / PutData)
    const caller = guard(req, res, req.method === 'GET' || req.method === 'HEAD' ? 'job.result' : 'job.submit')
    if (caller === undefined) return
    // a signed-in user's own files only (their jobs' and uploads), unless their roles read any
    if (await http.handle(req, res, url, caller.user === undefined ? undefined : access?.readerFor(caller.user))) return
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 'E_NOT_FOUND', message: `no data route ${url.pathname}` }))
  })
}

/** The live web view at /ui, on the SOAP server (so it binds where SOAP does: loopback by default). */
async function mountWebView (node: MvmNode, role: SuperPeerRole, logger: Logger, guard: HttpGuard): Promise<() => void> {
  const [{ createWebView }, { webSource }] = await Promise.all([import('@mvm/web'), import('@mvm/super-peer')])
  const view = createWebView({ source: webSource(node, role.agent), log: logger })
  // the view shows every job, its logs and the policy: listing jobs is the least it takes
  node.addHttpRoute('/ui', async (req, res, url) => { if (guard(req, res, 'job.list') !== undefined) await view.handle(req, res, url) })
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
