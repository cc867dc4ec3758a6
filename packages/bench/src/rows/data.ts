import '@mvm/core/polyfill'
import { execFile, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import {
  cloneTree, createDataService, createDataStore, createEnvironmentCache, createEnvironmentRegistry, newEnvironmentCounters,
  type DataService, type DataStore, type DataTransport, type Holder
} from '@mvm/data'
import type { BenchContext, Contender, RowGroup, RowSpec } from '../types.js'
import { forkHelper, forkHelperIn, stopAllOf } from '../baselines/helpers.js'
import { createNetHosts, type NetHost } from '../netns.js'
import { ask } from '../procs.js'

const MiB = 1024 * 1024

/** One in-process libp2p node with a data store and service (what every MVM node has). */
interface DataNode { node: Libp2p, store: DataStore, service: DataService, holder: Holder, dir: string }

function transportOf (node: Libp2p): DataTransport {
  return {
    encryptsOnSend: true, // Noise (dataNode)
    async handle (protocol, handler) {
      await node.handle(protocol, (stream, connection) => { handler(stream, connection.remotePeer.toString()) }, { maxInboundStreams: 256, maxOutboundStreams: 256 })
    },
    async unhandle (protocol) { await node.unhandle(protocol) },
    async dial (peerId, addrs, protocol, options = {}) {
      const opts = { ...(options.signal !== undefined ? { signal: options.signal } : {}), maxOutboundStreams: 256 }
      return await node.dialProtocol(addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`)), protocol, opts)
    }
  }
}

async function dataNode (dir: string, upstream?: () => Holder[]): Promise<DataNode> {
  const node = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  const store = await createDataStore({ dir, maxBytes: 2048 * MiB })
  const service = createDataService({ store, transport: transportOf(node), ...(upstream === undefined ? {} : { upstream: (_id: string) => upstream() }) })
  await service.start()
  const holder = { peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map((m) => m.toString()) }
  return { node, store, service, holder, dir }
}

async function stopNode (n: DataNode): Promise<void> {
  await n.service.stop()
  await n.store.close()
  await n.node.stop()
}

/** Forgets a file and its chunks, so the next fetch starts from nothing. */
async function forget (n: DataNode, id: string): Promise<void> {
  await n.store.remove(id)
  await n.store.gc()
}

/**
 * The in-process world of the byte-count and cache rows: a holder S and peers P1, P2, a
 * second-level cache C in front of an origin O, the test files imported into S and O.
 */
interface World {
  dir: string
  size: number
  s: DataNode
  p: [DataNode, DataNode]
  o: DataNode
  c: DataNode
  client: DataNode
  dense: string
  sparse: { id: string, nonZero: number }
  cached: string
}

async function world (ctx: BenchContext): Promise<World> {
  return await ctx.shared('data-world', async () => {
    const size = ctx.profile.quick ? 32 * MiB : 256 * MiB
    ctx.log(`data rows: importing a ${size / MiB} MiB input (and a zero-heavy one) into in-process stores`)
    const dir = await mkdtemp(join(tmpdir(), 'mvm-bench-data-'))
    const s = await dataNode(join(dir, 's'))
    const p: [DataNode, DataNode] = [await dataNode(join(dir, 'p1')), await dataNode(join(dir, 'p2'))]
    const o = await dataNode(join(dir, 'o'))
    const c = await dataNode(join(dir, 'c'), () => [o.holder])
    const client = await dataNode(join(dir, 'client'))
    const bytes = randomBytes(size)
    const dense = (await s.store.importBytes(bytes, { name: 'dense', pin: 'bench' })).id
    // one chunk in 16 holds data (its own, shared with no other file), the rest are zeros:
    // what a sparse disk image or a padded array looks like
    const zeroHeavy = Buffer.alloc(size)
    for (let i = 0; i < size / MiB; i += 16) randomBytes(MiB).copy(zeroHeavy, i * MiB)
    const sparse = { id: (await s.store.importBytes(zeroHeavy, { name: 'sparse', pin: 'bench' })).id, nonZero: Math.ceil(size / MiB / 16) * MiB }
    const cachedSize = ctx.profile.quick ? 8 * MiB : 64 * MiB
    const cached = (await o.store.importBytes(bytes.subarray(0, cachedSize), { name: 'cached', pin: 'bench' })).id
    return { dir, size, s, p, o, c, client, dense, sparse, cached }
  }, async (w) => {
    for (const n of [w.s, ...w.p, w.o, w.c, w.client]) await stopNode(n)
    await rm(w.dir, { recursive: true, force: true })
  })
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)

/** The transfer rows' nodes, each in its own process as on real machines: holder S, peers P1 and P2. */
interface Procs { s: ChildProcess, p: [ChildProcess, ChildProcess], hs: Holder, hp: [Holder, Holder], id: string, size: number, base: string, placement: Placement }

/** Where the three processes run: `start` forks one (named s, p1, p2) with its store dir; `stop` undoes the place. */
interface Placement { start: (name: string, dir: string, signal: AbortSignal) => Promise<ChildProcess>, stop: () => Promise<void> }

async function startProcs (ctx: BenchContext, where: string, placement: Placement): Promise<Procs> {
  const size = ctx.profile.quick ? 32 * MiB : 256 * MiB
  const signal = AbortSignal.timeout(120_000)
  let base: string | undefined
  const children: ChildProcess[] = []
  try {
    base = await mkdtemp(join(tmpdir(), 'mvm-bench-data-procs-'))
    const started = await Promise.allSettled(['s', 'p1', 'p2'].map(async (n) => await placement.start(n, join(base!, n), signal)))
    for (const r of started) if (r.status === 'fulfilled') children.push(r.value)
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
    const [s, p1, p2] = children as [ChildProcess, ChildProcess, ChildProcess]
    const holder = async (c: ChildProcess): Promise<Holder> => await ask<Holder>(c, { cmd: 'holder' }, signal)
    ctx.log(`data rows: a ${size / MiB} MiB input in the holder's store (3 processes${where})`)
    const id = await ask<string>(s, { cmd: 'import', size }, AbortSignal.timeout(300_000))
    return { s, p: [p1, p2], hs: await holder(s), hp: [await holder(p1), await holder(p2)], id, size, base, placement }
  } catch (err) {
    // a shared resource whose start failed is never stopped by the run: undo it here
    await stopAllOf(...children)
    if (base !== undefined) await rm(base, { recursive: true, force: true })
    await placement.stop()
    throw err
  }
}

async function stopProcs (w: Procs): Promise<void> {
  await stopAllOf(w.s, ...w.p)
  // each process removes its own store; the folder that held the three is ours
  await rm(w.base, { recursive: true, force: true })
  await w.placement.stop()
}

/** The three processes on 127.0.0.1 of this machine. */
async function procs (ctx: BenchContext): Promise<Procs> {
  const local: Placement = { start: async (_n, dir, signal) => await forkHelper('data-node', [dir], signal), stop: async () => {} }
  return await ctx.shared('data-procs', async () => await startProcs(ctx, '', local), async (w) => { await stopProcs(w) })
}

/** The three processes each on its own emulated host, links shaped to 1 Gbit/s each way. */
async function lanProcs (ctx: BenchContext): Promise<Procs> {
  return await ctx.shared('data-lan-procs', async () => {
    const net = await createNetHosts({ count: 3, rate: '1gbit' })
    const host = (n: string): NetHost => net.hosts[['s', 'p1', 'p2'].indexOf(n)]!
    const placement: Placement = {
      start: async (n, dir, signal) => await forkHelperIn(host(n).ns, 'data-node', [dir, `/ip4/${host(n).ip}/tcp/0`], signal),
      stop: async () => { await net.teardown() }
    }
    return await startProcs(ctx, ', 3 network namespaces, 1 Gbit/s links', placement)
  }, async (w) => { await stopProcs(w) })
}

type ProcsOf = (ctx: BenchContext) => Promise<Procs>

function twoPeers (ctx: BenchContext, procsOf: ProcsOf): Contender {
  let w: Procs
  return {
    async setup () { w = await procsOf(ctx) },
    async sample (signal) {
      const t0 = performance.now()
      // the holders a job's peers are given: the super-peer, then the job's peers (each peer
      // leaves itself out and may fetch from the other, as peers of one job do)
      await Promise.all(w.p.map(async (p) => await ask<number>(p, { cmd: 'fetch', file: w.id, holders: [w.hs, ...w.hp] }, signal)))
      return mbps(2 * w.size, performance.now() - t0)
    }
  }
}

/** The raw stream to each peer: `cmd` 'raw' reads and drops it, 'rawStored' hashes and writes it to 1 MiB files. */
function rawTwoPeers (ctx: BenchContext, procsOf: ProcsOf, cmd: 'raw' | 'rawStored' = 'raw'): Contender {
  let w: Procs
  return {
    async setup () { w = await procsOf(ctx) },
    async sample (signal) {
      const t0 = performance.now()
      await Promise.all(w.p.map(async (p) => await ask<number>(p, { cmd, holder: w.hs, n: w.size }, signal)))
      return mbps(2 * w.size, performance.now() - t0)
    }
  }
}

/** MiB that crossed the wire into P1 for one fetch (after `before`). */
function movedMiB (ctx: BenchContext, id: (w: World) => string, fresh: boolean): Contender {
  let w: World
  return {
    async setup () { w = await world(ctx) },
    async sample () {
      const p = w.p[0]
      if (fresh) await forget(p, id(w))
      else await p.service.fetch(id(w), [w.s.holder]) // the first run of "the same job"
      const before = p.service.counters().bytesIn
      await p.service.fetch(id(w), [w.s.holder])
      return (p.service.counters().bytesIn - before) / MiB
    }
  }
}

const constant = (v: (w: World) => number, ctx: BenchContext): Contender => {
  let w: World
  return { async setup () { w = await world(ctx) }, async sample () { return v(w) } }
}

/** Fetch time of a file through the cache C: `hit` with C holding it, else C fills from O first. */
function throughCache (ctx: BenchContext, hit: boolean): Contender {
  let w: World
  return {
    async setup () {
      w = await world(ctx)
      await w.c.service.fetch(w.cached, [w.o.holder])
    },
    async sample () {
      await forget(w.client, w.cached)
      if (!hit) await forget(w.c, w.cached)
      else await w.c.service.fetch(w.cached, [w.o.holder])
      const t0 = performance.now()
      await w.client.service.fetch(w.cached, [w.c.holder])
      return performance.now() - t0
    }
  }
}

/** The npm environment fixture's files (package.json, lockfile, a local tarball). */
async function envSource (ctx: BenchContext, dir: string): Promise<string> {
  const src = join(dir, 'src')
  await cp(join(ctx.root, 'test', 'fixtures', 'env-npm'), src, { recursive: true })
  return src
}

/**
 * A rank's environment ready in a new work dir with the environment cached: the super-peer
 * finds it by its lockfile hash, the peer's written copy is reused, the work dir gets hard links.
 */
function cachedEnv (ctx: BenchContext): Contender {
  let w: World
  let dir: string
  let files: Array<{ path: string, id: string }>
  let n = 0
  const counters = newEnvironmentCounters()
  let registry: ReturnType<typeof createEnvironmentRegistry>
  let cache: ReturnType<typeof createEnvironmentCache>
  return {
    async setup () {
      w = await world(ctx)
      dir = await mkdtemp(join(tmpdir(), 'mvm-bench-env-'))
      const src = await envSource(ctx, dir)
      files = []
      for (const name of ['package.json', 'package-lock.json', 'mvm-greet-1.0.0.tgz']) files.push({ path: name, id: (await w.s.store.importFile(join(src, name))).id })
      registry = createEnvironmentRegistry({ store: w.s.store, dir: join(dir, 'reg'), counters })
      cache = createEnvironmentCache({ store: w.p[0].store, service: w.p[0].service, dir: join(dir, 'envs'), counters: newEnvironmentCounters() })
      const first = await registry.resolve('npm', files)
      await cache.ensure(first.id, [w.s.holder])
    },
    async sample () {
      const t0 = performance.now()
      const env = await registry.resolve('npm', files)
      const got = await cache.ensure(env.id, [w.s.holder])
      await cloneTree(got.tree, got.dir, join(dir, 'work', String(n++)))
      const ms = performance.now() - t0
      if (counters.builds !== 1) throw new Error(`the environment was built ${counters.builds} times`)
      return ms
    },
    async teardown () { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) }
  }
}

/** `npm ci` of the same lockfile into a new folder, with npm's cache warm (no network). */
function npmCi (ctx: BenchContext): Contender {
  let dir: string
  let src: string
  let n = 0
  const ci = async (cwd: string): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      execFile('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-bin-links', '--cache', join(dir, 'npm-cache')], { cwd }, (err) => { if (err === null) resolve(); else reject(err) })
    })
  }
  const fresh = async (): Promise<string> => {
    const to = join(dir, 'ci', String(n++))
    await mkdir(to, { recursive: true })
    await cp(src, to, { recursive: true })
    return to
  }
  return {
    async setup () {
      dir = await mkdtemp(join(tmpdir(), 'mvm-bench-npm-'))
      src = await envSource(ctx, dir)
      await writeFile(join(dir, '.keep'), '')
      await ci(await fresh()) // fills npm's cache
    },
    async sample () {
      const to = await fresh()
      const t0 = performance.now()
      await ci(to)
      return performance.now() - t0
    },
    async teardown () { if (dir !== undefined) await rm(dir, { recursive: true, force: true }) }
  }
}

/** A row of the 2-peer transfer (the figure is the same data path each time; `where` says where it runs). */
function transferRow (id: string, where: string, baseline: string, note: string, make: RowSpec['make']): RowSpec {
  return {
    id,
    figure: `256 MiB input (32 MiB with --quick) fetched by 2 peers into their stores, MB/s delivered${where === '' ? ' (3 processes)' : where}`,
    baseline,
    unit: 'MB/s',
    better: 'higher',
    rounds: (p) => Math.min(p.rounds, 5),
    note,
    make
  }
}

export const dataRows: RowGroup = {
  name: 'data',
  title: 'Data: job inputs as content-addressed chunks over /mvm/data/1.0.0 (libp2p nodes on 127.0.0.1; transfer-lan across network namespaces)',
  rows: [
    transferRow('data.transfer-2peers', '', 'raw libp2p stream of the same bytes to each of the 2 peers (read, not stored)', 'target: ratio >= 0.8',
      (c) => ({ a: twoPeers(c, procs), b: rawTwoPeers(c, procs) })),
    transferRow('data.transfer-floor', '', 'raw libp2p stream of the same bytes to each of the 2 peers, sha256-hashed and written to 1 MiB files as it arrives',
      'the baseline is the least a content-checked store must do with the bytes (hash them, write them); ratio ~1.0 means the protocol, chunk index and sharing cost nothing more',
      (c) => ({ a: twoPeers(c, procs), b: rawTwoPeers(c, procs, 'rawStored') })),
    transferRow('data.transfer-lan', ', over 1 Gbit/s links (3 network namespaces, tbf)', 'raw libp2p stream of the same bytes to each of the 2 peers (read, not stored), over the same links',
      'target: ratio >= 0.8 (the link, not the CPU, is the limit here)',
      (c) => ({ a: twoPeers(c, lanProcs), b: rawTwoPeers(c, lanProcs) })),
    {
      id: 'data.same-again',
      figure: 'MiB moved when a peer runs the same job (same input) again',
      baseline: 'MiB of the input (what a first run moves)',
      unit: 'MiB',
      better: 'lower',
      rounds: (p) => Math.min(p.rounds, 3),
      note: 'target: 0',
      make: (c) => ({ a: movedMiB(c, (w) => w.dense, false), b: constant((w) => w.size / MiB, c) })
    },
    {
      id: 'data.zero-heavy',
      figure: 'MiB on the wire fetching a zero-heavy input (1 chunk in 16 non-zero)',
      baseline: 'MiB of its non-zero chunks',
      unit: 'MiB',
      better: 'lower',
      rounds: (p) => Math.min(p.rounds, 3),
      note: 'target: ratio ~1.0',
      make: (c) => ({ a: movedMiB(c, (w) => w.sparse.id, true), b: constant((w) => w.sparse.nonZero / MiB, c) })
    },
    {
      id: 'data.cache-hit',
      figure: 'fetch of a 64 MiB input (8 MiB with --quick) through the group\'s cache, cache holds it',
      baseline: 'the same fetch, cache fills from the origin first (miss)',
      unit: 'ms',
      better: 'lower',
      rounds: (p) => Math.min(p.rounds, 5),
      make: (c) => ({ a: throughCache(c, true), b: throughCache(c, false) })
    },
    {
      id: 'data.env-cached',
      figure: 'golden npm environment ready in a new work dir, cached (lockfile-hash hit, peer copy, hard links)',
      baseline: 'npm ci of the same lockfile (npm cache warm, offline)',
      unit: 'ms',
      better: 'lower',
      rounds: (p) => Math.min(p.rounds, 5),
      make: (c) => ({ a: cachedEnv(c), b: npmCi(c) })
    }
  ]
}
