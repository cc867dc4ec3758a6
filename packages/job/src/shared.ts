import { BadRequestError } from '@mvm/core'
import type { SharedSpace, Transport } from './types.js'

/**
 * Tags of `ctx.shared` on the rank-addressed channel: far above any collective's (a call owns
 * 2^20 tags, so collectives reach 2^50 only after 2^30 calls). Requests from rank a to rank h
 * are numbered per pair, so a home reads them in the order a sent them.
 */
const REQ_BASE = 2 ** 50
const REPLY_BASE = 2 ** 51
/** Updates a home pushes to the ranks that hold a read replica of a key, numbered per pair. */
const PUSH_BASE = 2 ** 52
const PAIR_WRAP = 2 ** 49

type Op =
  | { op: 'get', key: string }
  | { op: 'put', key: string, value: unknown }
  | { op: 'cas', key: string, expected: unknown, value: unknown }
  /** A get that also subscribes the asking rank to the key's later updates. */
  | { op: 'sub', key: string }

/**
 * What a home answers: `ver` counts the key's successful writes, so a rank can order what reaches
 * it by two routes (answers and pushes). `value` is the key's value after the operation, sent
 * only when the asker does not already know it (a get, or a compare-and-set that failed).
 */
interface Reply { ok: boolean, ver: number, value?: unknown }

interface Push { key: string, ver: number, value: unknown }

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
 * linearizable. A rank may also keep a read replica of a key: its first replica read subscribes
 * it at the home, which then pushes each later write of the key to its subscribers in its apply
 * order; replica reads are local. Each rank serves the keys it homes while its program runs.
 */
export class SharedStore {
  private readonly data = new Map<string, unknown>()
  /** Per homed key: its count of successful writes. */
  private readonly vers = new Map<string, number>()
  /** Per homed key: the other ranks that hold a replica of it. */
  private readonly subs = new Map<string, Set<number>>()
  /** Per key homed elsewhere: this rank's replica (once subscribed). */
  private readonly replicas = new Map<string, { ver: number, value: unknown }>()
  private readonly subscribing = new Map<string, Promise<void>>()
  private readonly sent = new Map<number, number>()
  private readonly served = new Map<number, number>()
  private readonly pushed = new Map<number, number>()
  private readonly pushListeners = new Set<number>()
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
          await this.t.sendRank(from, REPLY_BASE + n, this.apply(req, from), this.signal)
        }
      })().catch(() => {})
    }
  }

  /** Applies one operation at this key's home; `from` is the asking rank. */
  private apply (req: Op, from: number): Reply {
    const cur = this.data.get(req.key)
    const ver = this.vers.get(req.key) ?? 0
    if (req.op === 'get') return { ok: true, ver, value: cur }
    if (req.op === 'sub') {
      if (from !== this.rank) {
        let s = this.subs.get(req.key)
        if (s === undefined) { s = new Set(); this.subs.set(req.key, s) }
        s.add(from)
      }
      return { ok: true, ver, value: cur }
    }
    if (req.op === 'cas' && !same(cur, req.expected)) return { ok: false, ver, value: cur }
    this.data.set(req.key, req.value)
    this.vers.set(req.key, ver + 1)
    this.push(req.key, ver + 1, req.value, from)
    return { ok: true, ver: ver + 1 }
  }

  /** Sends a write to every replica of the key but the writer's (its answer carries the write). */
  private push (key: string, ver: number, value: unknown, writer: number): void {
    const s = this.subs.get(key)
    if (s === undefined) return
    for (const to of s) {
      if (to === writer) continue
      const m = this.pushed.get(to) ?? 0
      this.pushed.set(to, (m + 1) % PAIR_WRAP)
      const msg: Push = { key, ver, value }
      this.t.sendRank(to, PUSH_BASE + m, msg, this.signal).catch(() => {})
    }
  }

  /** Keeps a newer version of a replicated key; an older one (a reordered answer) is dropped. */
  private learn (key: string, ver: number, value: unknown): void {
    const r = this.replicas.get(key)
    if (r !== undefined && ver > r.ver) { r.ver = ver; r.value = value }
  }

  /** Reads the updates `home` pushes, in the order it sent them. */
  private listen (home: number): void {
    if (this.pushListeners.has(home)) return
    this.pushListeners.add(home)
    void (async () => {
      for (let m = 0; ; m = (m + 1) % PAIR_WRAP) {
        const p = await this.t.recvRank(home, PUSH_BASE + m, this.signal) as Push
        this.learn(p.key, p.ver, p.value)
      }
    })().catch(() => {})
  }

  private async call (req: Op): Promise<Reply> {
    if (typeof req.key !== 'string' || req.key === '') throw new BadRequestError(`ctx.shared.${req.op === 'sub' ? 'get' : req.op}: key must be a non-empty string (got ${String(req.key)})`)
    this.serve()
    const home = homeOf(req.key, this.size)
    if (home === this.rank) return this.apply(structuredClone(req), this.rank)
    const n = this.sent.get(home) ?? 0
    this.sent.set(home, (n + 1) % PAIR_WRAP)
    await this.t.sendRank(home, REQ_BASE + n, req, this.signal)
    const reply = await this.t.recvRank(home, REPLY_BASE + n, this.signal) as Reply
    if (this.replicas.has(req.key)) {
      // what this rank wrote or read at the home is at once visible to its own replica reads
      const known = req.op === 'put' || (req.op === 'cas' && reply.ok) ? structuredClone(req.value) : reply.value
      this.learn(req.key, reply.ver, known)
    }
    return reply
  }

  /** A replica read: local once this rank holds a replica of the key, else one subscribing round trip. */
  private async replicaGet (key: string): Promise<unknown> {
    if (typeof key !== 'string' || key === '' || homeOf(key, this.size) === this.rank) return (await this.call({ op: 'get', key })).value
    let pending = this.subscribing.get(key)
    if (pending === undefined && !this.replicas.has(key)) {
      // the entry exists (version -1) from now on, so pushes that overtake the answer are kept
      this.replicas.set(key, { ver: -1, value: undefined })
      pending = (async () => {
        this.listen(homeOf(key, this.size))
        const reply = await this.call({ op: 'sub', key })
        this.learn(key, reply.ver, reply.value)
      })()
      this.subscribing.set(key, pending)
      pending.then(() => this.subscribing.delete(key), () => { this.subscribing.delete(key); this.replicas.delete(key) })
    }
    if (pending !== undefined) await pending
    const r = this.replicas.get(key)!
    // a copy, as a get at a remote home gives: the caller may change what it got
    return structuredClone(r.value)
  }

  space (): SharedSpace {
    return {
      get: async (key, options) => options?.replica === true ? await this.replicaGet(key) : (await this.call({ op: 'get', key })).value,
      put: async (key, value) => { await this.call({ op: 'put', key, value }) },
      compareAndSet: async (key, expected, value) => (await this.call({ op: 'cas', key, expected, value })).ok,
      home: (key) => homeOf(key, this.size)
    }
  }
}
