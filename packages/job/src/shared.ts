import { BadRequestError } from '@mvm/core'
import type { SharedSpace, Transport } from './types.js'

/**
 * Tags of `ctx.shared` on the rank-addressed channel: far above any collective's (a call owns
 * 2^20 tags, so collectives reach 2^50 only after 2^30 calls). Requests from rank a to rank h
 * are numbered per pair, so a home reads them in the order a sent them.
 */
const REQ_BASE = 2 ** 50
const REPLY_BASE = 2 ** 51
const PAIR_WRAP = 2 ** 49

type Op =
  | { op: 'get', key: string }
  | { op: 'put', key: string, value: unknown }
  | { op: 'cas', key: string, expected: unknown, value: unknown }

/** FNV-1a: the same home for a key on every rank, without any exchange. */
function homeOf (key: string, size: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) { h ^= key.charCodeAt(i); h = Math.imul(h, 0x01000193) >>> 0 }
  return h % size
}

/** Equality of JSON-like values (what compare-and-set compares): structure and typed-array contents. */
function same (a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
    return x.every((v, i) => v === y[i])
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return ka.length === kb.length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/**
 * A job-scoped key-value space hosted by the ranks: each key lives at one home rank (a hash of
 * the key), which applies operations on it one at a time in arrival order, so every key is
 * linearizable; there are no replicas. Each rank serves the keys it homes while its program runs.
 */
export class SharedStore {
  private readonly data = new Map<string, unknown>()
  private readonly sent = new Map<number, number>()
  private readonly served = new Map<number, number>()
  private started = false

  constructor (private readonly rank: number, private readonly size: number, private readonly t: Transport, private readonly signal: AbortSignal) {}

  /** Starts serving the keys this rank homes: one pending receive per other rank. */
  serve (): void {
    if (this.started) return
    this.started = true
    for (let from = 0; from < this.size; from++) {
      if (from === this.rank) continue
      void (async () => {
        for (;;) {
          const n = this.served.get(from) ?? 0
          const req = await this.t.recvRank(from, REQ_BASE + n, this.signal) as Op
          this.served.set(from, (n + 1) % PAIR_WRAP)
          await this.t.sendRank(from, REPLY_BASE + n, this.apply(req), this.signal)
        }
      })().catch(() => {})
    }
  }

  private apply (req: Op): unknown {
    const cur = this.data.get(req.key)
    if (req.op === 'get') return cur
    if (req.op === 'put') { this.data.set(req.key, req.value); return true }
    if (!same(cur, req.expected)) return false
    this.data.set(req.key, req.value)
    return true
  }

  private async call (req: Op): Promise<unknown> {
    if (typeof req.key !== 'string' || req.key === '') throw new BadRequestError(`ctx.shared.${req.op}: key must be a non-empty string (got ${String(req.key)})`)
    this.serve()
    const home = homeOf(req.key, this.size)
    if (home === this.rank) return this.apply(structuredClone(req))
    const n = this.sent.get(home) ?? 0
    this.sent.set(home, (n + 1) % PAIR_WRAP)
    await this.t.sendRank(home, REQ_BASE + n, req, this.signal)
    return await this.t.recvRank(home, REPLY_BASE + n, this.signal)
  }

  space (): SharedSpace {
    return {
      get: async (key) => await this.call({ op: 'get', key }),
      put: async (key, value) => { await this.call({ op: 'put', key, value }) },
      compareAndSet: async (key, expected, value) => await this.call({ op: 'cas', key, expected, value }) as boolean,
      home: (key) => homeOf(key, this.size)
    }
  }
}
