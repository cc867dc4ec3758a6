import type { Socket } from 'node:net'
import { InvalidStateError, errorFromJSON, throwIfAborted, type SerializedError } from '@mvm/core'
import type { Transport } from '@mvm/job'
import { CreditGate, CreditGranter, createQueue, type VirtualQueue } from '@mvm/queue'
import { FrameSocket, Kind } from './frame-socket.js'
import { portEncoder, structuredEncoder } from './payload.js'
import type { FromHost, HostInit, ToHost } from './protocol.js'

/** How often a rank reports its direct-socket traffic while it changes. */
const STATS_MS = 500

/**
 * Inside a rank process: one bounded queue per input port, one credit gate per output port,
 * and a mailbox for collective messages. Frames from the runtime's socket (`uplink`) and from
 * direct sockets to local peers feed them (IPC messages too, if the runtime sends any); the SDK
 * context drains them through the Transport this returns.
 */
export class HostChannels {
  private readonly inQueues = new Map<string, VirtualQueue<unknown>>()
  private readonly granters = new Map<string, CreditGranter>()
  private readonly gates = new Map<string, CreditGate>()
  private readonly mailbox = new Map<string, { value?: unknown, has: boolean, wake?: () => void }>()
  private arrivals: Array<() => void> = []
  private readonly encoder
  private readonly collEncoder = structuredEncoder()
  /** Local peer rank → its socket; my port → the socket and index (edge or port) it goes out on. */
  private readonly links = new Map<number, FrameSocket>()
  private readonly out = new Map<string, { link: FrameSocket, index: number } | undefined>()
  private readonly uplink: FrameSocket | undefined
  /** The SDK's hook for `{ cut }` (coordinated checkpoints only). */
  private onCut: (() => void) | undefined
  /**
   * A `{ cut }` that came before the program's context hooked in (while its module loads, or
   * queued before the process started): the node acknowledged it, so it is kept for the hook.
   */
  private cutPending = false
  private rr = 0
  /** Sends over direct sockets per port, `[items, bytes]`: the runtime cannot see them. */
  private readonly directSent = new Map<string, [number, number]>()
  private statsDirty = false
  private statsTimer: NodeJS.Timeout | undefined

  constructor (private readonly init: HostInit, private readonly post: (m: FromHost) => void) {
    this.encoder = portEncoder(init.queue.encoding)
    const capacity = init.queue.capacity
    const ports = init.ports
    if (init.uplink === true) {
      const up = new FrameSocket({
        frame: (kind, a, b, payload) => {
          const port = ports[a]
          if (kind === Kind.coll) this.deliverColl(b, a, payload)
          else if (port === undefined) return
          else if (kind === Kind.data) this.deliver(port, payload)
          else if (kind === Kind.credit) this.gates.get(port)?.grant(b)
          else if (kind === Kind.eof) this.eof(port)
        },
        closed: () => {}
      })
      this.uplink = up
      ports.forEach((port, index) => { this.out.set(port, { link: up, index }) })
    }
    for (const d of init.direct ?? []) {
      const link = new FrameSocket({
        frame: (kind, a, b, payload) => {
          if (kind === Kind.coll) { this.deliverColl(d.peer, a, payload); return }
          const mine = d.edges[a]?.[0]
          if (mine === undefined) return
          if (kind === Kind.data) this.deliver(mine, payload)
          else if (kind === Kind.credit) this.gates.get(mine)?.grant(b)
        },
        closed: () => { for (const [mine] of d.edges) this.eof(mine) }
      })
      this.links.set(d.peer, link)
      d.edges.forEach(([mine], index) => { this.out.set(mine, { link, index }) })
    }
    for (const port of ports) {
      this.inQueues.set(port, createQueue(init.queue.type, { capacity }))
      const via = this.out.get(port)
      const grant = via === undefined ? (n: number) => { post({ credit: { port, n } }) } : (n: number) => { via.link.write(Kind.credit, via.index, n) }
      this.granters.set(port, new CreditGranter({ capacity, grant }))
      this.gates.set(port, new CreditGate(capacity))
    }
  }

  /** Applies one message from the runtime; `handle` is the socket a `{ direct }` or `{ uplink }` message carries. */
  handle (m: ToHost, handle?: unknown): void {
    if ('inputData' in m) { this.inputAnswer(m.inputData); return }
    if ('cut' in m) { if (this.onCut !== undefined) this.onCut(); else this.cutPending = true; return }
    if ('data' in m) this.deliver(m.data.port, m.data.bytes)
    else if ('credit' in m) this.gates.get(m.credit.port)?.grant(m.credit.n)
    else if ('coll' in m) this.deliverColl(m.coll.from, m.coll.tag, m.coll.bytes)
    else if ('eof' in m) this.eof(m.eof.port)
    else if ('direct' in m || 'uplink' in m) {
      const link = 'uplink' in m ? this.uplink : this.links.get(m.direct.peer)
      if (link !== undefined && handle !== undefined) link.attach(handle as Socket)
      else (handle as Socket | undefined)?.destroy()
    }
  }

  private deliver (port: string, bytes: Uint8Array): void {
    const q = this.inQueues.get(port)
    if (q === undefined) return
    const value = this.encoder.decode(bytes)
    const priority = typeof (value as { priority?: unknown })?.priority === 'number' ? (value as { priority: number }).priority : 0
    // credits guarantee room; a sender that ignores them is a protocol breach we still absorb
    if (!q.tryPut(value, { priority })) void q.put(value, { priority }).catch(() => {})
    this.wakeArrivals()
  }

  private deliverColl (from: number, tag: number, bytes: Uint8Array): void {
    const key = `${from}:${tag}`
    const value = this.collEncoder.decode(bytes)
    const slot = this.mailbox.get(key)
    if (slot?.wake !== undefined) { slot.value = value; slot.has = true; slot.wake() } else this.mailbox.set(key, { value, has: true })
  }

  private eof (port: string): void {
    this.inQueues.get(port)?.close()
    this.gates.get(port)?.close(new InvalidStateError(`port "${port}": the peer rank has finished`, { data: { port } }))
    this.wakeArrivals()
  }

  /** Totals go to the runtime at most once per STATS_MS, and only after a change. */
  private countDirect (port: string, bytes: number): void {
    const c = this.directSent.get(port)
    if (c === undefined) this.directSent.set(port, [1, bytes]); else { c[0]++; c[1] += bytes }
    this.statsDirty = true
    if (this.statsTimer !== undefined) return
    this.statsTimer = setTimeout(() => { this.statsTimer = undefined; this.postStats() }, STATS_MS)
    this.statsTimer.unref()
  }

  private postStats (): void {
    if (!this.statsDirty) return
    this.statsDirty = false
    this.post({ stats: Object.fromEntries(this.directSent) })
  }

  /** Ends the direct sockets once what was sent on them is handed to the OS (call before exiting). */
  async flush (): Promise<void> {
    clearTimeout(this.statsTimer); this.statsTimer = undefined
    this.postStats()
    const all = [...this.links.values(), ...(this.uplink === undefined ? [] : [this.uplink])]
    await Promise.all(all.map(async (l) => { await l.end() }))
  }

  private wakeArrivals (): void {
    const a = this.arrivals
    this.arrivals = []
    for (const f of a) f()
  }

  private async waitArrival (signal: AbortSignal): Promise<void> {
    throwIfAborted(signal)
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => { try { throwIfAborted(signal) } catch (e) { reject(e) } }
      signal.addEventListener('abort', onAbort, { once: true })
      this.arrivals.push(() => { signal.removeEventListener('abort', onAbort); resolve() })
    })
  }

  private taken (port: string): void { this.granters.get(port)?.consumed() }

  private readonly reads = new Map<number, { resolve: (b: Uint8Array) => void, reject: (e: Error) => void }>()
  private nextRead = 1

  private inputAnswer (a: { req: number, bytes?: Uint8Array, error?: SerializedError }): void {
    const r = this.reads.get(a.req)
    if (r === undefined) return
    this.reads.delete(a.req)
    if (a.error !== undefined) r.reject(errorFromJSON(a.error))
    else r.resolve(a.bytes ?? new Uint8Array(0))
  }

  transport (): Transport {
    return {
      readInput: async (name, offset, length, signal) => {
        throwIfAborted(signal)
        const req = this.nextRead++
        return await new Promise<Uint8Array>((resolve, reject) => {
          const onAbort = (): void => { this.reads.delete(req); try { throwIfAborted(signal) } catch (e) { reject(e as Error) } }
          signal.addEventListener('abort', onAbort, { once: true })
          this.reads.set(req, {
            resolve: (b) => { signal.removeEventListener('abort', onAbort); resolve(b) },
            reject: (e) => { signal.removeEventListener('abort', onAbort); reject(e) }
          })
          this.post({ readInput: { req, name, offset, length } })
        })
      },
      sendPort: async (port, value, signal) => {
        // encode before taking a credit: a value that cannot be encoded must not cost one
        const bytes = this.encoder.encode(value)
        await this.gates.get(port)!.take({ signal })
        const via = this.out.get(port)
        if (via !== undefined) via.link.write(Kind.data, via.index, 0, bytes)
        else this.post({ send: { port, bytes } })
        if (via !== undefined && via.link !== this.uplink) this.countDirect(port, bytes.byteLength)
      },
      recvPort: async (port, signal) => {
        try {
          const v = await this.inQueues.get(port)!.get({ signal })
          this.taken(port)
          return v
        } catch (err) {
          if (err instanceof InvalidStateError) throw new InvalidStateError(`recv("${port}"): the peer rank has finished and nothing is left on the port`, { data: { port } })
          throw err
        }
      },
      recvAny: async (signal) => {
        const ports = this.init.ports
        for (;;) {
          // round-robin start so one busy port cannot starve the others
          for (let i = 0; i < ports.length; i++) {
            const port = ports[(this.rr + i) % ports.length]!
            const got = this.inQueues.get(port)!.tryGet()
            if (got !== undefined) { this.rr = (this.rr + i + 1) % ports.length; this.taken(port); return { port, value: got.value } }
          }
          if ([...this.inQueues.values()].every((q) => q.closed)) throw new InvalidStateError('recv(): every peer rank has finished and nothing is left')
          await this.waitArrival(signal)
        }
      },
      sendRank: async (rank, tag, value) => {
        const bytes = this.collEncoder.encode(value)
        const link = this.links.get(rank)
        if (link !== undefined) link.write(Kind.coll, tag, 0, bytes)
        else if (this.uplink !== undefined) this.uplink.write(Kind.coll, tag, rank, bytes)
        else this.post({ coll: { to: rank, tag, bytes } })
      },
      recvRank: async (rank, tag, signal) => {
        const key = `${rank}:${tag}`
        let slot = this.mailbox.get(key)
        if (slot === undefined || !slot.has) {
          throwIfAborted(signal)
          const s = slot ?? { has: false }
          this.mailbox.set(key, s)
          await new Promise<void>((resolve, reject) => {
            const onAbort = (): void => { try { throwIfAborted(signal) } catch (e) { reject(e) } }
            signal.addEventListener('abort', onAbort, { once: true })
            s.wake = () => { signal.removeEventListener('abort', onAbort); resolve() }
          })
          slot = s
        }
        this.mailbox.delete(key)
        return slot.value
      },
      log: (line) => { process.stdout.write(`[rank ${this.init.rank}] ${line}\n`) },
      cutRequests: (fn) => {
        this.onCut = fn
        if (this.cutPending) { this.cutPending = false; fn() }
      },
      checkpoint: async (state) => {
        const json = JSON.stringify(state ?? null)
        this.post({ checkpoint: { json } })
      }
    }
  }
}
