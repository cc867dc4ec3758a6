import type { Socket } from 'node:net'
import type { Logger } from '@mvm/core'
import type { RankGraph } from '@mvm/model'
import type { Sandbox } from '@mvm/sandbox'
import { directBetween, planDirect, RUNTIME, SocketPairs } from './direct-pairs.js'
import { FrameSocket, type FrameSink } from './frame-socket.js'
import { Kind } from './frame-socket.js'
import type { DirectPeer, FromHost } from './protocol.js'

/** For each rank, a small integer naming its node (numbered in order of first appearance). */
export function localityOf (placement: string[]): number[] {
  const ids = new Map<string, number>()
  return placement.map((node) => {
    let id = ids.get(node)
    if (id === undefined) { id = ids.size; ids.set(node, id) }
    return id
  })
}

/**
 * One job's sockets on this node, rank to rank and rank to runtime: the plan each rank gets in
 * its init, the socket pairs (made once before the ranks start), and handing each rank its ends.
 */
export class DirectWiring {
  readonly plan: Map<number, DirectPeer[]>
  readonly isDirect: (a: number, b: number) => boolean
  private pairs: SocketPairs | undefined
  private readonly dropped = new Set<number>()
  private closed = false
  /** Ends sent to a rank and not yet acknowledged, by rank. */
  private readonly inFlight = new Map<number, Set<Socket>>()

  constructor (graph: RankGraph, local: number[], private readonly log: Logger) {
    this.plan = planDirect(graph, local)
    this.isDirect = directBetween(this.plan)
  }

  peersOf (rank: number): DirectPeer[] { return this.plan.get(rank) ?? [] }

  async open (signal?: AbortSignal): Promise<void> {
    const pairs = await SocketPairs.create(this.plan, signal)
    this.pairs = pairs
    // the job may have ended (every rank terminated) while the pairs were being made: a
    // leftover end never reads, so it would never see eof and would hold the process open
    if (this.closed) { pairs.close(); return }
    for (const r of this.dropped) pairs.drop(r)
  }

  /** The runtime's side of rank's uplink, reading into `sink` (undefined: no sockets were made). */
  uplink (rank: number, sink: FrameSink): FrameSocket | undefined {
    const end = this.pairs?.runtimeEnd(rank)
    if (end === undefined) return undefined
    const up = new FrameSocket(sink)
    up.attach(end)
    return up
  }

  /** Sends rank its socket ends, after its init (IPC keeps the order). */
  handOver (rank: number, sandbox: Sandbox): void {
    for (const [peer, socket] of this.pairs?.take(rank) ?? []) {
      // until the rank has it, the end is ours: a rank that dies first may never acknowledge it
      let sending = this.inFlight.get(rank)
      if (sending === undefined) { sending = new Set(); this.inFlight.set(rank, sending) }
      sending.add(socket)
      sandbox.send(peer === RUNTIME ? { uplink: true } : { direct: { peer } }, { handle: socket }).then(() => {
        this.inFlight.get(rank)?.delete(socket)
      }, (err: unknown) => {
        this.log.debug({ err, rank, peer }, 'could not hand a direct socket to the rank')
        this.inFlight.get(rank)?.delete(socket)
        socket.destroy()
      })
    }
  }

  /** rank will not run (or is gone before taking its ends): its peers see eof. */
  drop (rank: number): void {
    this.dropped.add(rank)
    this.pairs?.drop(rank)
    this.dropInFlight(rank)
  }

  /** The rank is gone: ends still on their way to it would otherwise stay open here for good. */
  private dropInFlight (rank: number): void {
    for (const s of this.inFlight.get(rank) ?? []) s.destroy()
    this.inFlight.delete(rank)
  }

  close (): void {
    this.closed = true
    this.pairs?.close()
    for (const r of [...this.inFlight.keys()]) this.dropInFlight(r)
  }
}

/** Turns a rank's uplink frames back into the messages the router takes. */
export function uplinkSink (ports: string[], onMessage: (m: FromHost) => void): FrameSink {
  return {
    frame (kind, a, b, bytes) {
      if (kind === Kind.coll) { onMessage({ coll: { to: b, tag: a, bytes } }); return }
      const port = ports[a]
      if (port === undefined) return
      if (kind === Kind.data) onMessage({ send: { port, bytes } })
      else if (kind === Kind.credit) onMessage({ credit: { port, n: b } })
    },
    closed () {}
  }
}
