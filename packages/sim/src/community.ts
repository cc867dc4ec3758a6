import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger, type Logger } from '@mvm/core'
import { createBootstrapClient } from '@mvm/soap'
import type { EffectivePolicy } from '@mvm/model'
import { createMvmHost, type ControlTraffic, type MvmHost } from '@mvm/node'
import type { RuntimeInit } from '@mvm/runtime'
import { SimRanks, simRuntime } from './sim-runtime.js'
import { groupTree, type GroupTree } from './tree.js'

export interface CommunityInit {
  /** Folder for every node's key, job store and data cache. */
  dataDir: string
  peers: number
  groups: number
  /** Most child super-peers one super-peer takes (the bounded-children policy). */
  fanout: number
  heartbeatMs: number
  missedHeartbeats: number
  /** Slots per peer. */
  slots: number
  /** Slots per peer in the named groups instead of `slots` (a group with bigger machines). */
  slotsByGroup?: Record<string, number>
  /** The super-peers' policy bound on child super-peers (`monitoring.maxChildGroups`); default `fanout`. */
  maxChildGroups?: number
  /** The super-peers' merged policy (scheduling, fault tolerance, …), as `mvm node --policy` gives it. */
  policy?: EffectivePolicy
  /** How many nodes start at once. */
  startConcurrency?: number
  /**
   * The groups (indices into the tree) whose super-peer and peers run in this process; default
   * all. A community split over processes (`mvm sim --workers`) gives each a share.
   */
  groupsHere?: number[]
  /** A bootstrap running elsewhere (another process); default: this community starts one. */
  bootstrapUrl?: string
  /** The super-peers' transport: `memory+tcp` lets child super-peers in other processes reach them over TCP. */
  superPeerTransport?: 'memory' | 'memory+tcp'
  logger?: Logger
}

export interface SimNode {
  host: MvmHost
  /** Its simulated ranks running now (always 0 on the bootstrap and super-peers): its load and memory come from them. */
  ranks: SimRanks
  kind: 'bootstrap' | 'super-peer' | 'peer'
  group: string
  index: number
}

/**
 * A whole virtual community in this process: one bootstrap node, a super-peer per group (each
 * but the root a member of its parent group), and the peers spread over the groups. Every one
 * is a real MVM node (`createMvmHost`: membership, heartbeats, admission, broker, peer agent,
 * SOAP endpoint); only the libp2p transport (memory instead of TCP), the peers' runtime
 * (simulated ranks) and the resource sampler (load and free memory from those ranks, not from
 * the one shared process and host) differ from a node started by `mvm node`.
 */
export class Community {
  readonly tree: GroupTree
  bootstrap: SimNode | undefined
  readonly superPeers: SimNode[] = []
  readonly peers: SimNode[] = []
  private nextPeer = 0

  /** Indices (into the tree) of the groups run here, in the order of `superPeers`. */
  readonly here: number[]

  constructor (readonly init: CommunityInit) {
    this.tree = groupTree(init.groups, init.fanout)
    this.here = init.groupsHere ?? this.tree.names.map((_, i) => i)
  }

  get bootstrapUrl (): string { return this.init.bootstrapUrl ?? this.need(this.bootstrap).host.node.soapUrl }

  /** Starts the bootstrap (unless it runs elsewhere) and this process's super-peers (parents first); resolves once they are registered. */
  async startServices (timeoutMs = 60_000): Promise<void> {
    if (this.init.bootstrapUrl === undefined) {
      const b = this.makeNode('bootstrap', 'boot', ['bootstrap'])
      await b.host.start()
      this.bootstrap = b
    }
    for (const i of this.here) {
      const parent = this.tree.parent[i]
      this.superPeers.push(this.makeNode('super-peer', this.tree.names[i]!, ['super-peer'], parent === undefined ? undefined : this.tree.names[parent]))
    }
    await this.startAll(this.superPeers)
    // peers that asked before their super-peer registered would back off for seconds
    const client = createBootstrapClient(this.bootstrapUrl)
    await waitFor(async () => {
      // a busy process may answer late: that is one more try, not a failure
      const res = await client.GetBrokers({ group: '' }, { timeoutMs: 10_000 }).catch(() => undefined)
      if (res === undefined) return false
      const { brokers } = res
      const have = new Set(brokers.map((x) => x.group))
      return this.here.every((i) => have.has(this.tree.names[i]!))
    }, timeoutMs, 'every super-peer registered with the bootstrap')
  }

  /** Starts `count` more peers, spread round-robin over the groups; resolves once each node is started (joining goes on). */
  async addPeers (count: number): Promise<SimNode[]> {
    const fresh: SimNode[] = []
    for (let k = 0; k < count; k++) {
      const i = this.nextPeer++
      fresh.push(this.makeNode('peer', this.tree.names[this.here[i % this.here.length]!]!, ['peer']))
    }
    this.peers.push(...fresh)
    await this.startAll(fresh)
    return fresh
  }

  /** Stops a peer gracefully (it says Leave first) and drops it from the community. */
  async removePeer (p: SimNode): Promise<void> {
    const i = this.peers.indexOf(p)
    if (i >= 0) this.peers.splice(i, 1)
    await p.host.stop()
  }

  /** Members that are up in each group's own view (not counting the super-peer itself). */
  upByGroup (): number[] {
    return this.superPeers.map((s) => s.host.node.membership.view({ includeChildren: false }).slice(1).filter((m) => m.state === 'up').length)
  }

  /** How many peers each group should have up now, child super-peers included. */
  expectedByGroup (): number[] {
    const want = this.superPeers.map(() => 0)
    const at = new Map(this.here.map((g, k) => [this.tree.names[g]!, k]))
    for (const p of this.peers) want[at.get(p.group)!]!++
    // child super-peers join their parent's group wherever they run
    for (let i = 1; i < this.tree.parent.length; i++) {
      const k = at.get(this.tree.names[this.tree.parent[i]!]!)
      if (k !== undefined) want[k]!++
    }
    return want
  }

  /** Nodes the root super-peer sees through the whole tree (its own members and the child reports). */
  rootSees (): number {
    return this.need(this.superPeers[0]).host.node.membership.view({ includeChildren: true }).slice(1).filter((m) => m.state === 'up').length
  }

  traffic (): Map<SimNode, ControlTraffic> {
    const out = new Map<SimNode, ControlTraffic>()
    for (const n of this.all()) out.set(n, n.host.node.controlTraffic())
    return out
  }

  /** SOAP calls the bootstrap served so far, by operation. */
  async bootstrapCalls (): Promise<Record<string, number>> {
    const m = this.need(this.bootstrap).host.node.metrics.registry.getSingleMetric('mvm_soap_calls_total')
    const out: Record<string, number> = {}
    if (m === undefined) return out
    for (const v of (await m.get()).values) {
      const op = String(v.labels.operation)
      out[op] = (out[op] ?? 0) + v.value
    }
    return out
  }

  all (): SimNode[] {
    return [...(this.bootstrap === undefined ? [] : [this.bootstrap]), ...this.superPeers, ...this.peers]
  }

  async stop (): Promise<void> {
    // peers first (their Leave reaches a live super-peer), then children before parents
    await this.stopAll(this.peers.splice(0))
    await this.stopAll([...this.superPeers].reverse())
    await this.bootstrap?.host.stop()
  }

  private async stopAll (nodes: SimNode[]): Promise<void> {
    await runLimited(nodes, this.init.startConcurrency ?? 200, async (n) => { await n.host.stop().catch(() => {}) })
  }

  private async startAll (nodes: SimNode[]): Promise<void> {
    await runLimited(nodes, this.init.startConcurrency ?? 200, async (n) => {
      await mkdir(join(this.init.dataDir, n.kind, `${n.index}`), { recursive: true })
      await n.host.start()
    })
  }

  private counter = 0

  private makeNode (kind: SimNode['kind'], group: string, roles: Array<'bootstrap' | 'super-peer' | 'peer'>, parentGroup?: string): SimNode {
    const index = this.counter++
    const ranks = new SimRanks()
    const host = createMvmHost({
      dataDir: join(this.init.dataDir, kind, `${index}`),
      roles,
      group,
      transport: kind === 'super-peer' ? (this.init.superPeerTransport ?? 'memory') : 'memory',
      identify: false,
      ...(kind === 'bootstrap' ? {} : { bootstrap: [this.bootstrapUrl] }),
      ...(parentGroup === undefined ? {} : { parentGroup }),
      capacity: { slots: kind === 'peer' ? (this.init.slotsByGroup?.[group] ?? this.init.slots) : 1 },
      monitoring: { heartbeatMs: this.init.heartbeatMs, missedHeartbeats: this.init.missedHeartbeats, maxChildGroups: this.init.maxChildGroups ?? this.init.fanout },
      resources: ranks.sampler,
      ...(kind === 'peer' ? { runtime: (r: RuntimeInit) => simRuntime(r, ranks), data: false as const } : {}),
      ...(kind === 'super-peer' && this.init.policy !== undefined ? { policy: this.init.policy } : {}),
      logger: this.init.logger ?? silentLogger()
    })
    return { host, ranks, kind, group, index }
  }

  private need<T> (v: T | undefined): T {
    if (v === undefined) throw new Error('the community is not started')
    return v
  }
}

/** Runs `fn` over `items` with at most `limit` at a time; rejects with the first failure after all settled. */
export async function runLimited<T> (items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const errors: unknown[] = []
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!
      try { await fn(item) } catch (e) { errors.push(e) }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (errors.length > 0) throw errors[0] as Error
}

/** Polls `ok` every `everyMs` (100) until it holds; throws naming `what` after `timeoutMs`. */
export async function waitFor (ok: () => boolean | Promise<boolean>, timeoutMs: number, what: string, signal?: AbortSignal, everyMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (await ok()) return
    signal?.throwIfAborted()
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
