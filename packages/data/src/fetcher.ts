import { AbortError, DataError, ErrorCode, MvmError, type Logger } from '@mvm/core'
import { MAX_HASHES_PER_REQUEST, REQUEST_BYTES_TARGET } from './constants.js'
import type { BufferPool } from './buffer-pool.js'
import { call } from './exchange.js'
import { decodeManifest, manifestId } from './manifest.js'
import type { DataStore, DataTransport, FileManifest, Holder, TransferCounters } from './types.js'

export interface FetcherContext {
  store: DataStore
  transport: DataTransport
  log: Logger
  counters: TransferCounters
  inflight: number
  requestTimeoutMs: number
  maxFrameBytes: number
  /** Chunk-sized buffers that received chunks are gathered in (shared by this fetcher's requests). */
  pool: BufferPool
  /** This node's peer id: never asked for chunks, and its place among sharing peers (see `plan`). */
  self: string | undefined
}

export interface ChunkFetchOptions {
  signal: AbortSignal
  /** Called once per chunk received and stored. */
  onChunk?: (hash: string, bytes: number, holder: Holder) => void
}

export interface Batch { hashes: string[], tried: Set<number>, next: number }

/**
 * The client side of /mvm/data/1.0.0: a manifest from the first holder that has it, chunks
 * in batches, several requests in flight spread round-robin over the holders; a chunk a
 * holder lacks, sends corrupt or fails to deliver goes to the next holder. Chunks already
 * being fetched by another caller of the same fetcher are waited for, not fetched twice.
 */
export class Fetcher {
  private readonly pending = new Map<string, Promise<void>>()

  constructor (private readonly ctx: FetcherContext) {}

  private requestSignal (signal: AbortSignal): AbortSignal {
    return AbortSignal.any([signal, AbortSignal.timeout(this.ctx.requestTimeoutMs)])
  }

  async manifest (id: string, holders: Holder[], signal: AbortSignal): Promise<FileManifest> {
    const errors: string[] = []
    for (const h of holders) {
      let bytes: Uint8Array | undefined
      try {
        await call(this.ctx.transport, h, { type: 'getManifest', id }, { signal: this.requestSignal(signal), maxFrameBytes: this.ctx.maxFrameBytes, maxFrames: 1, pool: this.ctx.pool }, (r) => {
          if (r.type === 'manifest') bytes = r.bytes
          else if (r.type !== 'notFound') throw new DataError(ErrorCode.DATA_CORRUPT, `unexpected ${r.type} frame in reply to GetManifest`)
          return true
        })
      } catch (err) {
        if (signal.aborted) throw err
        errors.push(`${h.peerId}: ${(err as Error).message}`)
        continue
      }
      if (bytes === undefined) { errors.push(`${h.peerId}: not found`); continue }
      if (manifestId(bytes) !== id) {
        this.ctx.counters.corruptReceived++
        errors.push(`${h.peerId}: a manifest that does not hash to the id`)
        continue
      }
      const m = decodeManifest(bytes)
      await this.ctx.store.putManifest(bytes)
      return m
    }
    throw new DataError(ErrorCode.DATA_UNAVAILABLE, `no holder could supply file ${id}${errors.length > 0 ? ': ' + errors.join('; ') : ' (no holders)'}`, { data: { id } })
  }

  /** Makes the given chunks local (`sizes`: hash → length, for the request batching). */
  async chunks (fileId: string, chunkSize: number, hashes: string[], holders: Holder[], opts: ChunkFetchOptions): Promise<void> {
    const mine: string[] = []
    const theirs: Array<Promise<void>> = []
    for (const h of new Set(hashes)) {
      const p = this.pending.get(h)
      if (p !== undefined) theirs.push(p)
      else mine.push(h)
    }
    if (mine.length > 0) await this.fetchOwn(fileId, chunkSize, mine, holders, opts)
    if (theirs.length === 0) return
    await Promise.all(theirs)
    // another caller's fetch may have failed: what is still absent is ours to get (once)
    const have = await this.ctx.store.hasChunks(hashes)
    const left = hashes.filter((_, i) => !have[i]!)
    if (left.length > 0) await this.fetchOwn(fileId, chunkSize, left, holders, opts)
  }

  private async fetchOwn (fileId: string, chunkSize: number, hashes: string[], holders: Holder[], opts: ChunkFetchOptions): Promise<void> {
    const done = new Map<string, () => void>()
    for (const h of hashes) {
      let resolve!: () => void
      this.pending.set(h, new Promise<void>((r) => { resolve = r }))
      done.set(h, resolve)
    }
    const settle = (h: string): void => {
      const r = done.get(h)
      if (r === undefined) return
      done.delete(h)
      this.pending.delete(h)
      r()
    }
    try {
      await this.run(fileId, chunkSize, hashes, holders, opts, settle)
    } finally {
      for (const h of [...done.keys()]) settle(h)
    }
  }

  private async run (fileId: string, chunkSize: number, hashes: string[], given: Holder[], opts: ChunkFetchOptions, settle: (h: string) => void): Promise<void> {
    if (hashes.length === 0) return
    const per = Math.max(1, Math.min(MAX_HASHES_PER_REQUEST, Math.floor(REQUEST_BYTES_TARGET / chunkSize)))
    const { holders, queue } = plan(hashes, per, given, this.ctx.self)
    if (holders.length === 0) throw new DataError(ErrorCode.DATA_UNAVAILABLE, `no holders to fetch ${hashes.length} chunks of ${fileId} from`, { data: { id: fileId } })
    const dead = new Set<number>()
    const stop = new AbortController()
    const signal = AbortSignal.any([opts.signal, stop.signal])
    let fatal: Error | undefined

    const pick = (b: Batch): number | undefined => {
      let fallback: number | undefined
      for (let k = 0; k < holders.length; k++) {
        const i = (b.next + k) % holders.length
        if (b.tried.has(i)) continue
        if (!dead.has(i)) return i
        fallback ??= i
      }
      return fallback
    }

    const runBatch = async (b: Batch): Promise<void> => {
      const hi = pick(b)
      if (hi === undefined) {
        throw new DataError(ErrorCode.DATA_UNAVAILABLE, `no holder could supply ${b.hashes.length} chunks of ${fileId} (tried ${b.tried.size} of ${holders.length})`, { data: { id: fileId, hashes: b.hashes } })
      }
      const holder = holders[hi]!
      const left = new Set(b.hashes)
      // chunks are written while the next ones arrive: a write waits on the disk and on this
      // thread's turn for each of its file operations, and the holder need not wait for that
      const writes: Array<Promise<void>> = []
      const store = async (hash: string, bytes: Uint8Array, sha256: string, size: number): Promise<void> => {
        try {
          await this.ctx.store.putChunk(hash, bytes, sha256)
        } catch (err) {
          if (err instanceof MvmError && err.code === ErrorCode.DATA_CORRUPT) {
            this.ctx.counters.corruptReceived++
            this.ctx.log.warn({ hash, from: holder.peerId }, 'data: a received chunk was corrupt; asking another holder')
            return
          }
          fatal ??= err as Error // our own store failed (E_DATA_FULL): no holder can help
          stop.abort(fatal)
          return
        }
        left.delete(hash)
        settle(hash)
        this.ctx.counters.bytesIn += size
        this.ctx.counters.chunksIn++
        opts.onChunk?.(hash, size, holder)
      }
      let at = 0
      try {
        await call(this.ctx.transport, holder, { type: 'getChunks', fileId, hashes: b.hashes }, { signal: this.requestSignal(signal), maxFrameBytes: this.ctx.maxFrameBytes, maxFrames: b.hashes.length + 1, pool: this.ctx.pool }, (r) => {
          if (r.type === 'end') return true
          const want = b.hashes[at++]
          if ((r.type !== 'chunk' && r.type !== 'missing') || r.hash !== want) throw new DataError(ErrorCode.DATA_CORRUPT, `unexpected ${r.type} frame for chunk ${String(want)}`)
          if (r.type === 'missing') return false
          writes.push(store(r.hash, r.bytes, r.sha256, r.size).finally(r.release))
          return false
        })
      } catch (err) {
        await Promise.all(writes)
        if (fatal !== undefined || opts.signal.aborted) throw fatal ?? err
        dead.add(hi)
        this.ctx.log.debug({ from: holder.peerId, err: (err as Error).message }, 'data: a chunk request failed; trying the next holder')
      }
      await Promise.all(writes)
      if (fatal !== undefined) throw fatal
      if (left.size > 0) {
        const tried = new Set(b.tried).add(hi)
        // the first holder (the origin) next, unless it was tried: a sharing peer that lacked
        // chunks is most likely still fetching them itself
        queue.unshift({ hashes: b.hashes.filter((h) => left.has(h)), tried, next: tried.has(0) ? (hi + 1) % holders.length : 0 })
      }
    }

    // each worker runs until the queue is empty; a batch's leftovers go back to the front,
    // each time with one more holder tried, so every chunk is attempted at most once per holder
    const worker = async (): Promise<void> => {
      for (let b = queue.shift(); b !== undefined && fatal === undefined; b = queue.shift()) {
        try { await runBatch(b) } catch (err) {
          fatal ??= err as Error
          stop.abort(fatal)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.ctx.inflight, queue.length) }, worker))
    if (fatal !== undefined) throw fatal
    if (opts.signal.aborted) throw new AbortError('fetch aborted', { cause: opts.signal.reason })
  }
}

/**
 * The batches of a fetch, in the order to run them, each with the holder to ask first.
 *
 * When this node is itself among the holders after the first, the caller named the peers of
 * one job, which fetch the same file at about the same time: the first holder is the origin,
 * the others (this node included) share. The batches are cut into one slice per sharing peer
 * (by sorted peer id, so every peer computes the same slices); each peer fetches its own slice
 * from the origin first and then the other slices, each from the peer whose slice it is, which
 * by then most likely has it (a chunk it lacks goes to the origin). The origin then sends each
 * byte about once instead of once per peer. Otherwise batches go round-robin over the holders.
 */
export function plan (hashes: string[], per: number, given: Holder[], self: string | undefined): { holders: Holder[], queue: Batch[] } {
  const holders = self === undefined ? given : given.filter((h, i) => i === 0 || h.peerId !== self)
  const n = Math.ceil(hashes.length / per)
  const batch = (i: number, next: number): Batch => ({ hashes: hashes.slice(i * per, (i + 1) * per), tried: new Set(), next })
  const sharing = [...new Set(given.slice(1).map((h) => h.peerId))].sort()
  const mine = self === undefined ? -1 : sharing.indexOf(self)
  if (mine < 0 || sharing.length < 2 || given[0]!.peerId === self) {
    return { holders, queue: Array.from({ length: n }, (_, i) => batch(i, i % Math.max(1, holders.length))) }
  }
  const m = sharing.length
  const owner = (i: number): number => Math.floor(i * m / n)
  const start = Math.ceil(mine * n / m) // the first batch of this node's slice
  const queue: Batch[] = []
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n
    const r = owner(i)
    queue.push(batch(i, r === mine ? 0 : Math.max(0, holders.findIndex((h) => h.peerId === sharing[r]))))
  }
  return { holders, queue }
}
