import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Community, waitFor, type CommunityInit } from './community.js'
import { roomyYoungGeneration } from './heap.js'
import type { SimOptions, SimReport } from './run.js'
import { latencySummary, type JobKind, type JobTally } from './jobs.js'
import { spread } from './stats.js'
import type { GroupTree } from './tree.js'

/** What the parent asks a worker (packages/sim/src/worker-main.ts). */
export type WorkerRequest = { id: number } & (
  | { op: 'start', init: CommunityInit, timeoutMs: number }
  | { op: 'add', count: number }
  | { op: 'status', rootSees?: boolean }
  | { op: 'mark' }
  | { op: 'measure' }
  | { op: 'jobs', count: number, mix: JobKind[], timeoutMs: number }
  | { op: 'stop' }
)

export interface WorkerStatus { up: number, want: number, rssMB: number, heapUsedMB: number, nodes: number, rootSees?: number }

/** Per node [msgs/s, bytes/s] over the window, sent and received. */
export interface WorkerRates {
  secs: number
  peers: Array<[number, number]>
  superPeers: Array<[number, number]>
  root?: [number, number]
  allMsgs: number
  allBytes: number
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never

/**
 * Splits the groups over `workers` processes by whole subtrees under the root: the root's
 * children and everything below each go to the process with the fewest groups so far, the root
 * to the first. Only a subtree's top super-peer then talks to another process (the root).
 */
export function splitGroups (tree: GroupTree, workers: number): number[][] {
  const out: number[][] = Array.from({ length: workers }, () => [])
  const top = (i: number): number => { let x = i; while (tree.parent[x] !== undefined && tree.parent[x] !== 0) x = tree.parent[x]!; return x }
  const subtrees = new Map<number, number[]>()
  for (let i = 1; i < tree.names.length; i++) {
    const t = top(i)
    subtrees.set(t, [...(subtrees.get(t) ?? []), i])
  }
  out[0]!.push(0)
  for (const members of [...subtrees.values()].sort((a, b) => b.length - a.length)) {
    const k = out.reduce((best, g, j) => g.length < out[best]!.length ? j : best, 0)
    out[k]!.push(...members)
  }
  return out.map((g) => g.sort((a, b) => a - b))
}

class Worker {
  private next = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  private exited: Error | undefined

  constructor (readonly index: number, private readonly child: ChildProcess) {
    child.on('message', (m: { id: number, ok: boolean, value?: unknown, error?: string }) => {
      const w = this.waiting.get(m.id)
      if (w === undefined) return
      this.waiting.delete(m.id)
      if (m.ok) w.resolve(m.value)
      else w.reject(new Error(`worker ${index}: ${m.error ?? 'failed'}`))
    })
    child.on('exit', (code, sig) => {
      this.exited = new Error(`worker ${index} exited (${sig ?? String(code)})`)
      for (const w of this.waiting.values()) w.reject(this.exited)
      this.waiting.clear()
    })
  }

  async ask<T> (req: Distribute<WorkerRequest>): Promise<T> {
    if (this.exited !== undefined) throw this.exited
    const id = this.next++
    return await new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.child.send({ ...req, id })
    })
  }

  kill (): void { if (this.exited === undefined) this.child.kill('SIGKILL') }
}

/**
 * `mvm sim --workers W`: the community of {@link runSim} split over W processes, whole groups per
 * process (each super-peer with its peers on the memory transport); the bootstrap runs in this
 * process, and the super-peers listen on TCP 127.0.0.1 too, so a child super-peer reaches a
 * parent in another process over TCP (and every node the bootstrap over SOAP/HTTP, as always).
 * Measures convergence and the traffic at rest as runSim does, then runs the jobs: each process
 * submits its groups' share (by their number) to its own super-peers' brokers over SOAP and
 * watches them, as runSim does in one process; churn runs in one process only.
 */
export async function runSimSplit (o: SimOptions & { workers: number }): Promise<SimReport> {
  if (o.churnPerMin > 0) throw new Error('--workers: churn runs in one process only (leave out --workers or --churn)')
  roomyYoungGeneration()
  const log = o.log ?? (() => {})
  const dataDir = o.dataDir ?? await mkdtemp(join(tmpdir(), 'mvm-sim-'))
  const base = { peers: o.peers, groups: o.groups, fanout: o.fanout, heartbeatMs: o.heartbeatMs, missedHeartbeats: o.missedHeartbeats, slots: o.slots, ...(o.policy !== undefined ? { policy: o.policy } : {}) }
  const boot = new Community({ ...base, dataDir: join(dataDir, 'boot'), groupsHere: [] })
  const workers: Worker[] = []
  try {
    let t = Date.now()
    await boot.startServices(o.timeoutMs)
    const split = splitGroups(boot.tree, o.workers)
    const main = fileURLToPath(new URL('./worker-main.js', import.meta.url))
    for (let k = 0; k < o.workers; k++) {
      // the heap sizes this process was given, not its loaders (a test runner's): the worker is compiled JavaScript
      const execArgv = process.execArgv.filter((a) => /^--(max-old-space-size|max-semi-space-size|stack-trace-limit)=/.test(a))
      workers.push(new Worker(k, fork(main, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })))
    }
    await Promise.all(workers.map(async (w) => {
      const init: CommunityInit = { ...base, dataDir: join(dataDir, `w${w.index}`), groupsHere: split[w.index]!, bootstrapUrl: boot.bootstrapUrl, superPeerTransport: 'memory+tcp' }
      await w.ask({ op: 'start', init, timeoutMs: o.timeoutMs })
    }))
    const servicesMs = Date.now() - t
    log(`bootstrap and ${o.groups} super-peers up in ${servicesMs} ms in ${o.workers} processes (${split.map((g) => g.length).join(' + ')} groups; tree depth ${boot.tree.depth}, at most ${boot.tree.maxChildren} child super-peers each)`)
    const status = async (rootSees = false): Promise<WorkerStatus[]> => await Promise.all(workers.map(async (w) => await w.ask<WorkerStatus>({ op: 'status', rootSees })))
    const total = (s: WorkerStatus[], f: (x: WorkerStatus) => number): number => s.reduce((a, x) => a + f(x), 0)
    const pollMs = Math.min(1000, Math.max(100, Math.round(o.peers / 10)))
    t = Date.now()
    const t0 = t
    const step = Math.max(100, Math.ceil(o.peers / 10))
    let last: WorkerStatus[] = []
    for (let added = 0; added < o.peers; added += step) {
      const n = Math.min(step, o.peers - added)
      // each process gets its share of the wave by its number of groups, so groups stay even
      const shares = split.map((g) => Math.floor(n * g.length / o.groups))
      shares[0]! += n - shares.reduce((a, b) => a + b, 0)
      await Promise.all(workers.map(async (w) => { if (shares[w.index]! > 0) await w.ask({ op: 'add', count: shares[w.index]! }) }))
      await waitFor(async () => { last = await status(); return total(last, (x) => x.up) >= Math.floor(0.9 * total(last, (x) => x.want)) }, Math.min(o.timeoutMs, 120_000), 'a wave of peers to join', o.signal, pollMs).catch(() => {})
      log(`  ${Math.min(o.peers, added + step)} peers started (${Math.round((Date.now() - t0) / 1000)} s, ${total(last, (x) => x.up)} joined)`)
    }
    const peersMs = Date.now() - t
    let said = Date.now()
    await waitFor(async () => {
      last = await status()
      const up = total(last, (x) => x.up); const want = total(last, (x) => x.want)
      if (Date.now() - said > 10_000) { said = Date.now(); log(`  ${up} of ${want} members up (${Math.round((Date.now() - t0) / 1000)} s)`) }
      return up >= want
    }, o.timeoutMs, 'every member to be up in its group', o.signal, pollMs)
    const convergenceMs = Date.now() - t0
    log(`membership converged in ${convergenceMs} ms`)
    const everyone = o.peers + o.groups - 1
    await waitFor(async () => ((await workers[0]!.ask<WorkerStatus>({ op: 'status', rootSees: true })).rootSees ?? 0) >= everyone, o.timeoutMs, `the root to see all ${everyone} nodes`, o.signal, pollMs)
    const treeConvergenceMs = Date.now() - t0

    const windowMs = o.windowMs ?? 3 * o.heartbeatMs
    log(`measuring control traffic at rest for ${windowMs} ms`)
    const calls0 = await boot.bootstrapCalls()
    const w0 = Date.now()
    await Promise.all(workers.map(async (w) => { await w.ask({ op: 'mark' }) }))
    await new Promise((resolve) => setTimeout(resolve, windowMs))
    const rates = await Promise.all(workers.map(async (w) => await w.ask<WorkerRates>({ op: 'measure' })))
    const secs = (Date.now() - w0) / 1000
    const calls1 = await boot.bootstrapCalls()
    const peers = rates.flatMap((r) => r.peers)
    const sps = rates.flatMap((r) => r.superPeers)
    const root = rates[0]!.root ?? [0, 0]
    last = await status()
    let jobs: SimReport['jobs']
    if (o.jobs > 0) {
      log(`submitting ${o.jobs} jobs (${o.mix.map((k) => `${k.ranks}:${k.ms}`).join(',')}) in ${o.workers} processes, each to its own groups`)
      const counts = split.map((g) => Math.floor(o.jobs * g.length / o.groups))
      counts[0]! += o.jobs - counts.reduce((a, b) => a + b, 0)
      const tallies = await Promise.all(workers.map(async (w) => counts[w.index]! > 0
        ? await w.ask<JobTally>({ op: 'jobs', count: counts[w.index]!, mix: o.mix, timeoutMs: o.timeoutMs })
        : undefined))
      jobs = mergeTallies(tallies.filter((x): x is JobTally => x !== undefined))
      log(`  jobs: ${jobs.submitted} submitted, ${jobs.succeeded} succeeded, ${jobs.failed} failed, ${jobs.unfinished} unfinished`)
      last = await status()
    }
    const mine = process.memoryUsage()
    const rssMB = Math.round(mine.rss / 2 ** 20) + total(last, (x) => x.rssMB)
    const nodes = total(last, (x) => x.nodes) + 1
    return {
      ...(jobs !== undefined ? { jobs } : {}),
      peers: o.peers, groups: o.groups, fanout: o.fanout, depth: boot.tree.depth, maxChildSuperPeers: boot.tree.maxChildren, heartbeatMs: o.heartbeatMs,
      workers: o.workers,
      startMs: { services: servicesMs, peers: peersMs },
      convergenceMs,
      treeConvergenceMs,
      steady: {
        windowMs: Math.round(secs * 1000),
        perPeer: { msgsPerSec: spread(peers.map((r) => r[0])), bytesPerSec: spread(peers.map((r) => r[1])) },
        perSuperPeer: { msgsPerSec: spread(sps.map((r) => r[0])), bytesPerSec: spread(sps.map((r) => r[1])) },
        root: { msgsPerSec: root[0], bytesPerSec: root[1] },
        // every message is counted by its sender and its receiver, in whichever process each runs
        totalMsgsPerSec: rates.reduce((a, r) => a + r.allMsgs, 0) / 2,
        totalBytesPerSec: rates.reduce((a, r) => a + r.allBytes, 0) / 2,
        bootstrapCallsPerSec: (sum(Object.values(calls1)) - sum(Object.values(calls0))) / secs
      },
      bootstrapCalls: calls1,
      memory: { rssMB, heapUsedMB: Math.round(mine.heapUsed / 2 ** 20) + total(last, (x) => x.heapUsedMB), perNodeKB: Math.round(rssMB * 1024 / Math.max(1, nodes)) }
    }
  } finally {
    log('stopping')
    await Promise.all(workers.map(async (w) => {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([w.ask({ op: 'stop' }).catch(() => {}), new Promise((resolve) => { timer = setTimeout(resolve, 60_000) })])
      clearTimeout(timer)
      w.kill()
    }))
    await boot.stop().catch(() => {})
    if (o.dataDir === undefined) await rm(dataDir, { recursive: true, force: true }).catch(() => {})
  }
}

function sum (xs: number[]): number { return xs.reduce((a, b) => a + b, 0) }

/** The processes' job tallies as one: counts add up, latencies pool, the wall time is the longest. */
export function mergeTallies (ts: readonly JobTally[]): NonNullable<SimReport['jobs']> {
  const add = (f: (t: JobTally) => number): number => ts.reduce((a, t) => a + f(t), 0)
  const unfinishedStates: Record<string, number> = {}
  for (const t of ts) for (const [k, n] of Object.entries(t.unfinishedStates)) unfinishedStates[k] = (unfinishedStates[k] ?? 0) + n
  const wallMs = Math.max(0, ...ts.map((t) => t.wallMs))
  const submitted = add((t) => t.submitted)
  return {
    submitted, succeeded: add((t) => t.succeeded), failed: add((t) => t.failed), other: add((t) => t.other), starts: add((t) => t.starts),
    unfinished: add((t) => t.unfinished), unfinishedStates,
    wallMs, latencyMs: latencySummary(ts.flatMap((t) => t.latencies)), jobsPerSec: wallMs > 0 ? submitted / (wallMs / 1000) : 0
  }
}
