import { InvalidStateError, throwIfAborted } from '@mvm/core'
import type { Transport } from '@mvm/job'
import { CreditGate, CreditGranter, createEncoder, createQueue, jsonEncoder, type VirtualQueue } from '@mvm/queue'
import { isJsonEncoding, jsonText, parseJsonText } from './payload.js'
import { fromB64, toB64, type FromHost, type HostInit, type Payload, type ToHost } from './protocol.js'

/**
 * Inside a rank process: one bounded queue per input port, one credit gate per output port,
 * and a mailbox for collective messages. Incoming IPC messages feed them; the SDK context
 * drains them through the Transport this returns.
 */
export class HostChannels {
  private readonly inQueues = new Map<string, VirtualQueue<unknown>>()
  private readonly granters = new Map<string, CreditGranter>()
  private readonly gates = new Map<string, CreditGate>()
  private readonly mailbox = new Map<string, { value?: unknown, has: boolean, wake?: () => void }>()
  private arrivals: Array<() => void> = []
  private readonly encoder
  private readonly collEncoder = jsonEncoder()
  private readonly textual: boolean
  private rr = 0

  constructor (private readonly init: HostInit, private readonly post: (m: FromHost) => void) {
    this.encoder = createEncoder(init.queue.encoding)
    this.textual = isJsonEncoding(init.queue.encoding)
    const capacity = init.queue.capacity
    for (const port of init.ports) {
      this.inQueues.set(port, createQueue(init.queue.type, { capacity }))
      this.granters.set(port, new CreditGranter({ capacity, grant: (n) => post({ credit: { port, n } }) }))
      this.gates.set(port, new CreditGate(capacity))
    }
  }

  /** Applies one message from the runtime. */
  handle (m: ToHost): void {
    if ('data' in m) {
      const q = this.inQueues.get(m.data.port)
      if (q === undefined) return
      const value = 'text' in m.data ? parseJsonText(m.data.text) : this.encoder.decode(fromB64(m.data.b64))
      const priority = typeof (value as { priority?: unknown })?.priority === 'number' ? (value as { priority: number }).priority : 0
      // credits guarantee room; a sender that ignores them is a protocol breach we still absorb
      if (!q.tryPut(value, { priority })) void q.put(value, { priority }).catch(() => {})
      this.wakeArrivals()
    } else if ('credit' in m) {
      this.gates.get(m.credit.port)?.grant(m.credit.n)
    } else if ('coll' in m) {
      const key = `${m.coll.from}:${m.coll.tag}`
      const value = 'text' in m.coll ? parseJsonText(m.coll.text) : this.collEncoder.decode(fromB64(m.coll.b64))
      const slot = this.mailbox.get(key)
      if (slot?.wake !== undefined) { slot.value = value; slot.has = true; slot.wake() } else this.mailbox.set(key, { value, has: true })
    } else if ('eof' in m) {
      const port = m.eof.port
      this.inQueues.get(port)?.close()
      this.gates.get(port)?.close(new InvalidStateError(`port "${port}": the peer rank has finished`, { data: { port } }))
      this.wakeArrivals()
    }
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
        const payload: Payload = this.textual ? { text: jsonText(value) } : { b64: toB64(this.encoder.encode(value)) }
        await this.gates.get(port)!.take({ signal })
        this.post({ send: { port, ...payload } })
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
        this.post({ coll: { to: rank, tag, text: jsonText(value) } })
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
