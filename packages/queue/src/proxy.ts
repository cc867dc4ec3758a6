import type { Stream } from '@libp2p/interface'
import { ProtocolError, UnavailableError, type Logger } from '@mvm/core'
import { QUEUE_PROTOCOL, QUEUE_VERSION, queueChannel, type QueueChannel, type QueueFrame as WireFrame } from '@mvm/wire'
import type { LinkFrame, RemoteLink } from './link.js'

/** What the queue transport needs from the libp2p host (the node exposes it; tests may too). */
export interface StreamHost {
  handle: (protocol: string, handler: (stream: Stream, remotePeer: string) => void) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dial: (peerId: string, addrs: string[], protocol: string, options?: { signal?: AbortSignal }) => Promise<Stream>
}

/** Frames for a job this node has not instantiated yet (its peers may start first): bounded. */
const EARLY_FRAMES_MAX = 4096
const EARLY_TTL_MS = 120_000

type Handler = (fromNode: string, frame: LinkFrame) => void

interface JobLinks {
  handler?: Handler
  early: Array<[string, LinkFrame]>
  earlySince: number
  out: Map<string, Promise<QueueChannel>>
  outboxes: Map<string, Outbox>
  inbound: Set<QueueChannel>
  addrs: Record<string, string[]>
}

/**
 * The node's proxy (queue-level VM, step e): one long-lived `/mvm/queue/1.0.0` stream per
 * node pair and job, multiplexing all of that job's ports. Sends wait on the stream's
 * backpressure; frames from one node arrive in the order they were sent. Frames sent while a
 * write is pending (or in the same tick) go out together, small ones in one stream write.
 */
export class QueueProxy {
  private readonly jobs = new Map<string, JobLinks>()
  private started = false

  constructor (private readonly host: StreamHost, private readonly log: Logger) {}

  async start (): Promise<void> {
    if (this.started) return
    await this.host.handle(QUEUE_PROTOCOL, (stream, remote) => { this.accept(stream, remote) })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.host.unhandle(QUEUE_PROTOCOL)
    for (const id of [...this.jobs.keys()]) this.closeJob(id)
  }

  /** The RemoteLink the runtime uses for one job. */
  link (jobId: string, addrs: Record<string, string[]>): RemoteLink {
    const j = this.job(jobId)
    j.addrs = addrs
    return {
      send: async (nodeId, frame, options) => {
        let box = j.outboxes.get(nodeId)
        if (box === undefined) {
          box = new Outbox(async (signal) => await this.outbound(jobId, nodeId, signal))
          j.outboxes.set(nodeId, box)
        }
        await box.push({ type: 'frame', ...toWire(frame) }, options?.signal)
      },
      onFrame: (handler) => {
        j.handler = handler
        for (const [from, f] of j.early.splice(0)) handler(from, f)
        return () => { if (j.handler === handler) delete j.handler }
      }
    }
  }

  closeJob (jobId: string): void {
    const j = this.jobs.get(jobId)
    if (j === undefined) return
    this.jobs.delete(jobId)
    for (const p of j.out.values()) void p.then(async (ch) => { await ch.close() }, () => {})
    for (const ch of j.inbound) void ch.close()
  }

  private job (jobId: string): JobLinks {
    let j = this.jobs.get(jobId)
    if (j === undefined) {
      j = { early: [], earlySince: Date.now(), out: new Map(), outboxes: new Map(), inbound: new Set(), addrs: {} }
      this.jobs.set(jobId, j)
    }
    return j
  }

  private async outbound (jobId: string, nodeId: string, signal?: AbortSignal): Promise<QueueChannel> {
    const j = this.job(jobId)
    let p = j.out.get(nodeId)
    if (p === undefined) {
      p = (async () => {
        const stream = await this.host.dial(nodeId, j.addrs[nodeId] ?? [], QUEUE_PROTOCOL, signal === undefined ? {} : { signal })
        const ch = queueChannel(stream, { logger: this.log })
        await ch.send({ type: 'hello', version: QUEUE_VERSION, jobId })
        // the remote's hello and anything after it on our outbound stream are not used for data
        void (async () => { try { for await (const _ of ch) { /* drain */ } } catch { /* closed */ } })()
        void ch.closed.then((err) => {
          if (j.out.get(nodeId) === p) j.out.delete(nodeId)
          if (err !== undefined) this.log.warn({ jobId, nodeId, err: err.message }, 'queue stream closed with an error')
        })
        return ch
      })()
      j.out.set(nodeId, p)
      p.catch(() => { if (j.out.get(nodeId) === p) j.out.delete(nodeId) })
    }
    try {
      return await p
    } catch (err) {
      throw new UnavailableError(`cannot open a queue stream to ${nodeId} for job ${jobId}: ${(err as Error).message}`, { cause: err })
    }
  }

  private accept (stream: Stream, remote: string): void {
    const ch = queueChannel(stream, { logger: this.log })
    void (async () => {
      let jobId: string | undefined
      try {
        for await (const m of ch) {
          if (m.type === 'hello') {
            if (m.version !== QUEUE_VERSION) throw new ProtocolError(`queue protocol version ${m.version} is not supported`)
            jobId = m.jobId
            this.job(jobId).inbound.add(ch)
            await ch.send({ type: 'hello', version: QUEUE_VERSION, jobId })
            continue
          }
          const j = jobId === undefined ? undefined : this.jobs.get(jobId)
          if (j === undefined) break // the job ended here: drop late frames
          const frame = fromWire(m)
          if (j.handler !== undefined) { j.handler(remote, frame); continue }
          if (j.early.length >= EARLY_FRAMES_MAX || Date.now() - j.earlySince > EARLY_TTL_MS) {
            throw new ProtocolError(`job ${String(jobId)}: too many frames before the job was instantiated here`)
          }
          j.early.push([remote, frame])
        }
      } catch (err) {
        this.log.warn({ remote, jobId, err: (err as Error).message }, 'queue stream dropped')
        ch.abort(err as Error)
      } finally {
        if (jobId !== undefined) this.jobs.get(jobId)?.inbound.delete(ch)
      }
    })()
  }
}

type OutMessage = Parameters<QueueChannel['send']>[0]

/**
 * The frames waiting for one outbound stream, in call order. One flush at a time: whatever
 * queued up meanwhile goes in the next, as one `sendMany`.
 */
class Outbox {
  private queue: Array<{ m: OutMessage, signal: AbortSignal | undefined, resolve: () => void, reject: (e: unknown) => void }> = []
  private flushing = false

  constructor (private readonly channel: (signal?: AbortSignal) => Promise<QueueChannel>) {}

  async push (m: OutMessage, signal: AbortSignal | undefined): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.queue.push({ m, signal, resolve, reject })
      if (!this.flushing) { this.flushing = true; queueMicrotask(() => { void this.flush() }) }
    })
  }

  private async flush (): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue
      this.queue = []
      // frames whose sender gave up before they left are dropped, as a single send would be
      const live = batch.filter((x) => { if (x.signal?.aborted === true) { x.reject(x.signal.reason); return false } return true })
      if (live.length === 0) continue
      try {
        const ch = await this.channel(live[0]!.signal)
        await ch.sendMany(live.map((x) => x.m), live[0]!.signal === undefined ? {} : { signal: live[0]!.signal })
        for (const x of live) x.resolve()
      } catch (err) {
        for (const x of live) x.reject(err)
      }
    }
    this.flushing = false
  }
}

function toWire (f: LinkFrame): Omit<WireFrame, never> {
  return { jobId: f.jobId, fromRank: f.fromRank, toRank: f.toRank, port: f.port, seq: f.seq, kind: f.kind.toUpperCase() as WireFrame['kind'], payload: f.payload, credits: f.credits }
}

function fromWire (f: WireFrame): LinkFrame {
  return { jobId: f.jobId, fromRank: f.fromRank, toRank: f.toRank, port: f.port, seq: f.seq, kind: f.kind.toLowerCase() as LinkFrame['kind'], payload: f.payload, credits: f.credits }
}
