import type { Logger } from '@mvm/core'
import type { RankGraph } from '@mvm/model'
import { LocalRank } from './local-rank.js'
import { payloadOf } from './payload.js'
import { COLLECTIVE_PORT, type FromHost, type ToHost } from './protocol.js'
import type { LinkFrame, RemoteLink } from './types.js'
import type { PortCounters } from './port-stats.js'

const EMPTY = new Uint8Array(0)

/**
 * The interface controller of one job on one node: a rank's `send('next', v)` becomes a
 * message to the peer rank's port, by IPC if the peer is here, as a LinkFrame over the link
 * if not. Local pairs with a direct socket bypass it entirely (`direct`), eof included.
 * The runtime never decodes values and holds no queues: credits bound what is in flight.
 */
export class Router {
  readonly locals = new Map<number, LocalRank>()
  private readonly seqs = new Map<string, number>()
  private readonly chains = new Map<string, Promise<void>>()
  private readonly abort = new AbortController()

  constructor (
    private readonly jobId: string,
    private readonly graph: RankGraph,
    private readonly placement: string[],
    private readonly self: string,
    private readonly link: RemoteLink,
    private readonly log: Logger,
    /** Local rank pairs that talk over their own socket. */
    private readonly direct: (a: number, b: number) => boolean = () => false,
    private readonly counters?: PortCounters
  ) {
    for (let r = 0; r < graph.size; r++) {
      if (placement[r] === self) this.locals.set(r, new LocalRank(r, (graph.ranks[r]?.ports ?? []).map((p) => p.port), log))
    }
  }

  private peerOf (rank: number, port: string): { peerRank: number, peerPort: string } | undefined {
    return this.graph.ranks[rank]?.ports.find((p) => p.port === port)
  }

  /** A message from local rank `rank`'s host. */
  fromHost (rank: number, m: FromHost): void {
    if ('send' in m) {
      const peer = this.peerOf(rank, m.send.port)
      if (peer === undefined) return this.log.warn({ rank, port: m.send.port }, 'rank sent on a port it does not have')
      const key = `${rank}:${m.send.port}`
      const seq = this.seqs.get(key) ?? 0
      this.seqs.set(key, seq + 1)
      const bytes = payloadOf(m.send)
      if (bytes === undefined) return this.log.warn({ rank, port: m.send.port }, 'rank sent a message without a payload')
      this.counters?.sent(rank, m.send.port, bytes.byteLength)
      this.route(rank, peer.peerRank, { data: { port: peer.peerPort, bytes } }, () => ({ kind: 'data', port: peer.peerPort, seq, payload: bytes, credits: 0 }))
    } else if ('credit' in m) {
      const peer = this.peerOf(rank, m.credit.port)
      if (peer === undefined) return
      const n = m.credit.n
      this.route(rank, peer.peerRank, { credit: { port: peer.peerPort, n } }, () => ({ kind: 'credit', port: peer.peerPort, seq: 0, payload: EMPTY, credits: n }))
    } else if ('coll' in m) {
      const to = m.coll.to
      if (!Number.isInteger(to) || to < 0 || to >= this.graph.size) return this.log.warn({ rank, to }, 'collective message to a rank outside the job')
      const tag = m.coll.tag
      const bytes = payloadOf(m.coll)
      if (bytes === undefined) return this.log.warn({ rank, to }, 'collective message without a payload')
      this.route(rank, to, { coll: { from: rank, tag, bytes } }, () => ({ kind: 'data', port: COLLECTIVE_PORT, seq: tag, payload: bytes, credits: 0 }))
    }
  }

  /** After a local rank exits: its peers' ports close once they have drained what it sent. */
  rankExited (rank: number): void {
    for (const p of this.graph.ranks[rank]?.ports ?? []) {
      // a direct peer sees our socket end after the last frame on it: an eof here could overtake them
      if (this.direct(rank, p.peerRank)) continue
      this.route(rank, p.peerRank, { eof: { port: p.peerPort } }, () => ({ kind: 'eof', port: p.peerPort, seq: 0, payload: EMPTY, credits: 0 }))
    }
  }

  /** A frame from another node's runtime. */
  fromLink (fromNode: string, f: LinkFrame): void {
    if (f.jobId !== this.jobId) return
    const local = this.locals.get(f.toRank)
    if (local === undefined) return this.log.warn({ fromNode, toRank: f.toRank }, 'frame for a rank that is not on this node')
    if (f.kind === 'data' && f.port === COLLECTIVE_PORT) local.deliver({ coll: { from: f.fromRank, tag: f.seq, bytes: f.payload } })
    else if (f.kind === 'data') local.deliver({ data: { port: f.port, bytes: f.payload } })
    else if (f.kind === 'credit') local.deliver({ credit: { port: f.port, n: f.credits } })
    else local.deliver({ eof: { port: f.port } })
  }

  /** `frame` is built only for a remote peer: a local one takes the bytes as they came. */
  private route (fromRank: number, toRank: number, local: ToHost, frame: () => Omit<LinkFrame, 'jobId' | 'fromRank' | 'toRank'>): void {
    const target = this.locals.get(toRank)
    if (target !== undefined) { target.deliver(local); return }
    const node = this.placement[toRank]
    if (node === undefined) return
    const full: LinkFrame = { jobId: this.jobId, fromRank, toRank, ...frame() }
    if (this.abort.signal.aborted) return
    // the link keeps call order, so frames need not wait for each other here: the proxy then
    // sees several at once and batches them; credits bound how many are outstanding
    const sent = this.link.send(node, full, { signal: this.abort.signal }).catch((err: unknown) => {
      if (!this.abort.signal.aborted) this.log.warn({ err, node, toRank }, 'could not send a frame to a remote node')
    })
    const prev = this.chains.get(node) ?? Promise.resolve()
    this.chains.set(node, prev.then(async () => { await sent }))
  }

  /** Waits until frames already queued for other nodes are handed to the link (peers still need them). */
  async drain (timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all([...this.chains.values()]),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    ])
    clearTimeout(timer)
  }

  close (): void { this.abort.abort() }
}
