import { mkdtemp, rm } from 'node:fs/promises'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { UnavailableError, throwIfAborted } from '@mvm/core'
import type { RankGraph } from '@mvm/model'
import type { DirectPeer } from './protocol.js'

/**
 * Up to this many local ranks, every pair gets a socket (collectives then never go through the
 * runtime); beyond it only pairs that share an edge do, so sockets grow with edges, not n².
 */
const ALL_PAIRS_MAX = 16
/** One Unix-socket connect on this host; far longer means something is wrong. */
const PAIR_TIMEOUT_MS = 10_000

/** Which local ranks get a socket to which, and the edges each socket carries (same order both sides). */
export function planDirect (graph: RankGraph, local: number[]): Map<number, DirectPeer[]> {
  const plan = new Map<number, DirectPeer[]>(local.map((r) => [r, []]))
  const isLocal = new Set(local)
  const all = local.length <= ALL_PAIRS_MAX
  for (const a of local) {
    const byPeer = new Map<number, Array<[string, string]>>()
    for (const p of graph.ranks[a]?.ports ?? []) {
      if (p.peerRank <= a || !isLocal.has(p.peerRank)) continue
      const list = byPeer.get(p.peerRank) ?? []
      list.push([p.port, p.peerPort])
      byPeer.set(p.peerRank, list)
    }
    const peers = all ? local.filter((b) => b > a) : [...byPeer.keys()]
    for (const b of peers) {
      const edges = byPeer.get(b) ?? []
      plan.get(a)!.push({ peer: b, edges })
      plan.get(b)!.push({ peer: a, edges: edges.map(([x, y]): [string, string] => [y, x]) })
    }
  }
  return plan
}

/** Whether two ranks talk directly under a plan (then the runtime stays out of their traffic). */
export function directBetween (plan: Map<number, DirectPeer[]>): (a: number, b: number) => boolean {
  const set = new Set<string>()
  for (const [a, peers] of plan) for (const p of peers) set.add(`${a}:${p.peer}`)
  return (a, b) => set.has(`${a}:${b}`)
}

/** The peer number that stands for this node's runtime (each rank's uplink). */
export const RUNTIME = -1

/**
 * The connected socket pairs of one job on this node, held until each rank's sandbox is up and
 * takes its ends (passed over IPC): one per planned pair of local ranks, and one per rank to the
 * runtime (peer `RUNTIME`). A rank that never starts has its ends destroyed, which its peers see
 * as eof. Node has no socketpair(), so each pair is one connection to a Unix socket in a private
 * (0700) temporary directory, made one at a time so the two ends match.
 */
export class SocketPairs {
  private readonly ends = new Map<number, Map<number, Socket>>()

  static async create (plan: Map<number, DirectPeer[]>, signal?: AbortSignal): Promise<SocketPairs> {
    const pairs = new SocketPairs()
    const todo = [...plan].flatMap(([a, peers]) => [[a, RUNTIME] as [number, number], ...peers.filter((p) => p.peer > a).map((p): [number, number] => [a, p.peer])])
    if (todo.length === 0) return pairs
    const dir = await mkdtemp(join(tmpdir(), 'mvm-pairs-'))
    const path = join(dir, 's')
    // the accepted end must not read: bytes it read would be lost when it is handed over
    const server: Server = createServer({ pauseOnConnect: true })
    try {
      await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(path, resolve) })
      for (const [a, b] of todo) {
        throwIfAborted(signal)
        const [ea, eb] = await connectPair(server, path)
        pairs.put(a, b, ea)
        pairs.put(b, a, eb)
      }
    } catch (err) {
      pairs.close()
      throw err
    } finally {
      server.close()
      await rm(dir, { recursive: true, force: true })
    }
    return pairs
  }

  private put (rank: number, peer: number, s: Socket): void {
    let m = this.ends.get(rank)
    if (m === undefined) { m = new Map(); this.ends.set(rank, m) }
    m.set(peer, s)
  }

  /** Hands over rank's ends (the caller sends them to the rank; peer RUNTIME: its uplink). */
  take (rank: number): Array<[number, Socket]> {
    const m = this.ends.get(rank)
    this.ends.delete(rank)
    return m === undefined ? [] : [...m]
  }

  /** The runtime's end of rank's uplink. */
  runtimeEnd (rank: number): Socket | undefined {
    const m = this.ends.get(RUNTIME)
    const s = m?.get(rank)
    m?.delete(rank)
    return s
  }

  /** rank will never take its ends: close them so its peers see eof. */
  drop (rank: number): void {
    for (const [, s] of this.take(rank)) s.destroy()
    // the runtime's end of its uplink too, unless an uplink reader already took it
    this.runtimeEnd(rank)?.destroy()
  }

  close (): void {
    for (const r of [...this.ends.keys()]) this.drop(r)
  }
}

async function connectPair (server: Server, path: string): Promise<[Socket, Socket]> {
  return await new Promise<[Socket, Socket]>((resolve, reject) => {
    let accepted: Socket | undefined
    let client: Socket | undefined
    let connected = false
    // a connect that never completes must not hold the job's start (and the process) forever
    const timer = setTimeout(() => {
      server.off('connection', onConnection)
      // a connection accepted after this would never read, so never see eof: it goes at once
      server.on('connection', (s: Socket) => { s.destroy() })
      client?.destroy()
      accepted?.destroy()
      reject(new UnavailableError(`no local socket pair within ${PAIR_TIMEOUT_MS} ms (${path})`))
    }, PAIR_TIMEOUT_MS)
    const done = (): void => {
      if (accepted === undefined || !connected) return
      clearTimeout(timer)
      server.off('connection', onConnection)
      resolve([client!, accepted])
    }
    const onConnection = (s: Socket): void => {
      // detach it from the server: IPC would otherwise pass it as a server connection, and the
      // server would keep tracking it in the child (close() then waits on that child)
      ;(s as unknown as { server: unknown }).server = null
      accepted = s
      done()
    }
    server.on('connection', onConnection)
    client = connect(path, () => {
      // stop reading before the first read starts (see pauseOnConnect above)
      client!.pause()
      connected = true
      done()
    })
    client.once('error', (err) => { clearTimeout(timer); server.off('connection', onConnection); accepted?.destroy(); reject(err) })
  })
}
