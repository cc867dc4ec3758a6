import type { Socket } from 'node:net'
import { InvalidStateError, throwIfAborted } from '@mvm/core'
import type { Transport } from '@mvm/job'
import { CreditGate, CreditGranter, createQueue, type VirtualQueue } from '@mvm/queue'
import { DirectLink } from './direct-link.js'
import { portEncoder, structuredEncoder } from './payload.js'
import type { FromHost, HostInit, ToHost } from './protocol.js'

/**
 * Inside a rank process: one bounded queue per input port, one credit gate per output port,
 * and a mailbox for collective messages. Incoming IPC messages and frames from direct sockets
 * (local peers) feed them; the SDK context drains them through the Transport this returns.
 */
export class HostChannels {
  private readonly inQueues = new Map<string, VirtualQueue<unknown>>()
  private readonly granters = new Map<string, CreditGranter>()
  private readonly gates = new Map<string, CreditGate>()
  private readonly mailbox = new Map<string, { value?: unknown, has: boolean, wake?: () => void }>()
  private arrivals: Array<() => void> = []
  private readonly encoder
  private readonly collEncoder = structuredEncoder()
  /** Local peer rank → its socket; my port → the socket and edge index it is wired to. */
  private readonly links = new Map<number, DirectLink>()
  private readonly viaLink = new Map<string, { link: DirectLink, edge: number }>()
  private rr = 0

  constructor (private readonly init: HostInit, private readonly post: (m: FromHost) => void) {
    this.encoder = portEncoder(init.queue.encoding)
    const capacity = init.queue.capacity
    for (const d of init.direct ?? []) {
      const link = new DirectLink(d.peer, {
        data: (edge, bytes) => { const p = d.edges[edge]; if (p !== undefined) this.deliver(p[0], bytes) },
        credit: (edge, n) => { const p = d.edges[edge]; if (p !== undefined) this.gates.get(p[0])?.grant(n) },
        coll: (tag, bytes) => { this.deliverColl(d.peer, tag, bytes) },
        closed: () => { for (const [mine] of d.edges) this.eof(mine) }
      })
      this.links.set(d.peer, link)
      d.edges.forEach(([mine], edge) => { this.viaLink.set(mine, { link, edge }) })
    }
    for (const port of init.ports) {
      this.inQueues.set(port, createQueue(init.queue.type, { capacity }))
      const via = this.viaLink.get(port)
      const grant = via === undefined ? (n: number) => { post({ credit: { port, n } }) } : (n: number) => { via.link.sendCredit(via.edge, n) }
      this.granters.set(port, new CreditGranter({ capacity, grant }))
      this.gates.set(port, new CreditGate(capacity))
    }
  }

  /** Applies one message from the runtime; `handle` is the socket a `{ direct }` message carries. */
  handle (m: ToHost, handle?: unknown): void {
    if ('data' in m) this.deliver(m.data.port, m.data.bytes)
    else if ('credit' in m) this.gates.get(m.credit.port)?.grant(m.credit.n)
    else if ('coll' in m) this.deliverColl(m.coll.from, m.coll.tag, m.coll.bytes)
    else if ('eof' in m) this.eof(m.eof.port)
    else if ('direct' in m) {
      const link = this.links.get(m.direct.peer)
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

  /** Ends the direct sockets once what was sent on them is handed to the OS (call before exiting). */
  async flush (): Promise<void> {
    await Promise.all([...this.links.values()].map(async (l) => { await l.end() }))
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

  transport (): Transport {
    return {
      sendPort: async (port, value, signal) => {
        // encode before taking a credit: a value that cannot be encoded must not cost one
        const bytes = this.encoder.encode(value)
        await this.gates.get(port)!.take({ signal })
        const via = this.viaLink.get(port)
        if (via !== undefined) via.link.sendData(via.edge, bytes)
        else this.post({ send: { port, bytes } })
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
        if (link !== undefined) link.sendColl(tag, bytes)
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
      checkpoint: async (state) => {
        const json = JSON.stringify(state ?? null)
        this.post({ checkpoint: { json } })
      }
    }
  }
}
