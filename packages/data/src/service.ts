import { AbortError, combineSignals, DataError, ErrorCode, silentLogger, throwIfAborted, type Logger } from '@mvm/core'
import { DEFAULT_INFLIGHT, maxFrameBytes, REQUEST_TIMEOUT_MS } from './constants.js'
import { BufferPool } from './buffer-pool.js'
import { Fetcher } from './fetcher.js'
import { distinctChunks } from './manifest.js'
import { coveringChunks, rangeEnd } from './reader.js'
import { serveStream } from './server.js'
import { DATA_PROTOCOL, type DataService, type DataServiceInit, type FetchOptions, type FetchStats, type FileManifest, type Holder, type TransferCounters } from './types.js'

export function createDataService (init: DataServiceInit): DataService {
  return new TransferService(init)
}

class TransferService implements DataService {
  private readonly log: Logger
  private readonly counts: TransferCounters = { bytesIn: 0, bytesOut: 0, chunksIn: 0, chunksOut: 0, requestsServed: 0, upstreamFetches: 0, corruptReceived: 0, dedupSkipped: 0, zeroSkipped: 0 }
  private readonly fetcher: Fetcher
  private readonly sendPool: BufferPool | undefined
  private readonly timeoutMs: number
  private life = new AbortController()
  private started = false

  constructor (private readonly init: DataServiceInit) {
    this.log = init.log ?? silentLogger()
    this.timeoutMs = init.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    const inflight = Math.max(1, init.inflight ?? DEFAULT_INFLIGHT)
    // two per request being served (one sent, one read ahead); more requests get new buffers
    this.sendPool = init.transport.encryptsOnSend === true ? new BufferPool(init.store.chunkSize, 16) : undefined
    this.fetcher = new Fetcher({
      store: init.store,
      transport: init.transport,
      log: this.log,
      counters: this.counts,
      inflight,
      requestTimeoutMs: this.timeoutMs,
      maxFrameBytes: maxFrameBytes(init.store.chunkSize),
      // each request fills one buffer while the chunk before it is written; beyond that,
      // pieces wait unpooled (see FrameReader)
      pool: new BufferPool(init.store.chunkSize, 2 * inflight + 2),
      self: init.self
    })
  }

  isStarted (): boolean { return this.started }

  async start (): Promise<void> {
    if (this.started) return
    if (this.life.signal.aborted) this.life = new AbortController()
    await this.init.transport.handle(DATA_PROTOCOL, (stream, remotePeer) => {
      void serveStream(stream, remotePeer, {
        store: this.init.store,
        log: this.log,
        counters: this.counts,
        signal: this.life.signal,
        // serving may wait for an upstream fetch, which has its own deadline
        timeoutMs: 2 * this.timeoutMs,
        chunkSize: this.init.store.chunkSize,
        mayServe: this.init.mayServe,
        sendPool: this.sendPool,
        fill: this.init.upstream === undefined ? undefined : async (fileId, hashes, signal) => { await this.fill(fileId, hashes, signal) }
      })
    })
    this.started = true
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.life.abort(new AbortError('the data service stopped'))
    await this.init.transport.unhandle(DATA_PROTOCOL).catch(() => {})
  }

  counters (): TransferCounters { return { ...this.counts } }

  private signal (s: AbortSignal | undefined): AbortSignal { return combineSignals([s, this.life.signal]) }

  /** The manifest from the local store, else from the first holder that has it. */
  private async manifest (id: string, holders: Holder[], signal: AbortSignal): Promise<FileManifest> {
    return (await this.init.store.getManifest(id)) ?? await this.fetcher.manifest(id, holders, signal)
  }

  async fetch (id: string, holders: Holder[], opts: FetchOptions = {}): Promise<FetchStats> {
    const signal = this.signal(opts.signal)
    throwIfAborted(signal)
    const m = await this.manifest(id, holders, signal)
    const sizes = distinctChunks(m)
    const stats: FetchStats = { bytes: 0, chunks: 0, fromCache: 0, perHolder: {} }
    let zeros = 0
    for (const c of m.chunks) if (c === '') zeros++
    // two rounds: a chunk evicted by a concurrent put while this fetch ran is fetched once more
    for (let round = 0; round < 2; round++) {
      const missing = await this.init.store.missing(id)
      if (round === 0) {
        stats.fromCache = sizes.size - missing.length
        this.counts.zeroSkipped += zeros
        // every non-zero position beyond the chunks this fetch asks for was a duplicate or already here
        this.counts.dedupSkipped += m.chunks.length - zeros - missing.length
      }
      if (missing.length === 0) return stats
      let total = 0
      for (const h of missing) total += sizes.get(h) ?? 0
      let done = 0
      await this.fetcher.chunks(id, m.chunk, missing, holders, {
        signal,
        onChunk: (_h, n, holder) => {
          stats.bytes += n
          stats.chunks++
          stats.perHolder[holder.peerId] = (stats.perHolder[holder.peerId] ?? 0) + n
          done += n
          opts.onProgress?.(done, total)
        }
      })
    }
    const left = await this.init.store.missing(id)
    if (left.length > 0) throw new DataError(ErrorCode.DATA_FULL, `${left.length} chunks of ${id} were evicted while it was fetched: the store is too small for it`, { data: { id } })
    return stats
  }

  async fetchManifest (id: string, holders: Holder[], opts: { signal?: AbortSignal } = {}): Promise<FileManifest> {
    const signal = this.signal(opts.signal)
    throwIfAborted(signal)
    return await this.manifest(id, holders, signal)
  }

  async fetchRange (id: string, offset: number, length: number, holders: Holder[], opts: FetchOptions = {}): Promise<Uint8Array> {
    const signal = this.signal(opts.signal)
    throwIfAborted(signal)
    const m = await this.manifest(id, holders, signal)
    const end = rangeEnd(m.size, offset, length)
    const covering = coveringChunks(m, offset, end).map((i) => m.chunks[i]!)
    const want = [...new Set(covering.filter((h) => h !== ''))]
    const have = await this.init.store.hasChunks(want)
    const need = want.filter((_, i) => !have[i]!)
    const zeros = covering.filter((h) => h === '').length
    this.counts.zeroSkipped += zeros
    this.counts.dedupSkipped += covering.length - zeros - need.length
    let done = 0
    const total = need.length
    if (need.length > 0) {
      await this.fetcher.chunks(id, m.chunk, need, holders, { signal, onChunk: () => { opts.onProgress?.(++done, total) } })
    }
    return await this.init.store.readRange(id, offset, length)
  }

  /**
   * The second-level cache: makes a file's manifest and the given chunks local from the
   * upstream holders before they are served. Concurrent requests for the same chunk share
   * one upstream fetch (the fetcher's pending map).
   */
  private async fill (fileId: string, hashes: string[], signal: AbortSignal): Promise<void> {
    const holders = this.init.upstream?.(fileId) ?? []
    if (holders.length === 0) return
    let m = this.init.store.get(fileId) === undefined ? undefined : await this.init.store.getManifest(fileId)
    if (m === undefined) {
      this.counts.upstreamFetches++
      m = await this.sharedManifest(fileId, holders, signal)
    }
    const have = await this.init.store.hasChunks(hashes)
    const need = hashes.filter((_, i) => !have[i]!)
    if (need.length === 0) return
    this.counts.upstreamFetches++
    await this.fetcher.chunks(fileId, m.chunk, need, holders, { signal })
  }

  private readonly manifestFetches = new Map<string, Promise<FileManifest>>()

  private async sharedManifest (id: string, holders: Holder[], signal: AbortSignal): Promise<FileManifest> {
    let p = this.manifestFetches.get(id)
    if (p === undefined) {
      p = this.fetcher.manifest(id, holders, combineSignals([this.life.signal], this.timeoutMs))
      this.manifestFetches.set(id, p)
      void p.catch(() => {}).finally(() => { this.manifestFetches.delete(id) })
    }
    throwIfAborted(signal)
    return await p
  }
}
