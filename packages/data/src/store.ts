import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { BadRequestError, DataError, ErrorCode, silentLogger, type Logger } from '@mvm/core'
import { ChunkDir } from './chunk-dir.js'
import { chunkFile } from './chunker.js'
import { maxManifestBytes } from './constants.js'
import { isAllZero, isHash, sha256Hex, sha256Parts } from './digest.js'
import { decodeManifest, distinctChunks, encodeManifest, manifestId } from './manifest.js'
import { materializeFile, readFileRange } from './reader.js'
import { StoreIndex, type FileRow } from './store-index.js'
import { sweepUnindexed } from './sweep.js'
import { CHUNK_SIZE, type DataStore, type DataStoreInit, type FileEntry, type FileManifest, type ImportOptions, type StoreStats } from './types.js'

/**
 * Chunks put without a file (an HTTP upload sends its chunks before its manifest) are kept
 * this long before eviction prefers them over files; after it they count as garbage.
 */
const ORPHAN_GRACE_MS = 10 * 60_000
/** Chunk files whose identity was recorded when verified (see getChunkToSend): at most this many. */
const VERIFIED_AT_REST = 65_536
/** Parsed manifests kept in memory (the index holds them all as bytes). */
const MANIFEST_CACHE = 64

export async function createDataStore (init: DataStoreInit): Promise<DataStore> {
  return new ChunkStore(init)
}

class ChunkStore implements DataStore {
  readonly dir: string
  readonly chunkSize: number
  private readonly maxBytes: number
  private readonly log: Logger
  private readonly index: StoreIndex
  private readonly disk: ChunkDir
  /** Stored chunk bytes (the index's sum, kept in memory). */
  private bytes: number
  /** Bytes of chunk writes under way: counted against the bound before they land. */
  private reserved = 0
  private readonly writes = new Map<string, Promise<void>>()
  /** Chunks of imports under way (not yet named by a file entry): never evicted. */
  private readonly busy = new Map<string, number>()
  private readonly manifests = new Map<string, FileManifest>()
  /** hash → identity of its chunk file when its bytes were last hashed (written or read verified). */
  private readonly verified = new Map<string, string>()
  private readonly counts = { hits: 0, misses: 0, corrupt: 0, evictions: 0, dedupChunks: 0, zeroChunks: 0 }
  private clock = 0
  private closed = false

  constructor (init: DataStoreInit) {
    if (!(init.maxBytes > 0)) throw new BadRequestError(`a data store needs maxBytes > 0, got ${init.maxBytes}`)
    this.dir = init.dir
    this.chunkSize = init.chunkSize ?? CHUNK_SIZE
    this.maxBytes = init.maxBytes
    this.log = init.log ?? silentLogger()
    mkdirSync(this.dir, { recursive: true })
    this.disk = new ChunkDir(this.dir)
    this.index = new StoreIndex(join(this.dir, 'index.db'))
    this.bytes = this.index.totals().bytes
  }

  /** Milliseconds, but strictly increasing, so LRU order is exact within one millisecond. */
  private tick (): number {
    this.clock = Math.max(Date.now(), this.clock + 1)
    return this.clock
  }

  async putChunk (hash: string, bytes: Uint8Array | readonly Uint8Array[], sha256?: string): Promise<void> {
    const parts = bytes instanceof Uint8Array ? [bytes] : bytes
    if (!isHash(hash)) throw new DataError(ErrorCode.DATA_CORRUPT, `"${String(hash).slice(0, 80)}" is not a chunk name (64 lowercase hex digits)`)
    const size = parts.reduce((n, p) => n + p.byteLength, 0)
    if (size > this.chunkSize) throw new DataError(ErrorCode.DATA_CORRUPT, `chunk ${hash} has ${size} bytes, over the ${this.chunkSize}-byte chunk size`)
    if ((sha256 ?? sha256Parts(parts)) !== hash) throw new DataError(ErrorCode.DATA_CORRUPT, `chunk bytes do not hash to ${hash}`, { data: { hash } })
    if (parts.every(isAllZero)) { this.counts.zeroChunks++; return } // recorded as "" in manifests: never stored
    await this.storeVerified(hash, parts, size)
  }

  /** Stores bytes already known to hash to `hash`; one write per chunk however many ask. */
  private async storeVerified (hash: string, bytes: Uint8Array | readonly Uint8Array[], size = byteLengthOf(bytes)): Promise<void> {
    this.assertOpen()
    const pending = this.writes.get(hash)
    if (pending !== undefined) { this.counts.dedupChunks++; await pending; return }
    if (this.index.hasChunk(hash)) { this.counts.dedupChunks++; this.index.touchChunk(hash, this.tick()); return }
    this.reserve(hash, size) // synchronous: evicts or throws E_DATA_FULL before any byte is written
    const write = (async () => {
      try {
        this.noteVerified(hash, await this.disk.write(hash, bytes))
        this.index.addChunk(hash, size, this.tick())
        this.bytes += size
      } finally {
        this.reserved -= size
      }
    })()
    this.writes.set(hash, write)
    try { await write } finally { this.writes.delete(hash) }
  }

  private reserve (hash: string, size: number): void {
    if (size > this.maxBytes) throw this.full(size)
    // each round removes at least one file entry or chunk, so this ends
    while (this.bytes + this.reserved + size > this.maxBytes) {
      if (!this.evictOne(hash)) throw this.full(size)
    }
    this.reserved += size
  }

  private full (size: number): DataError {
    return new DataError(ErrorCode.DATA_FULL, `the data store is full (${this.bytes} of ${this.maxBytes} bytes, ${this.reserved} being written) and nothing unpinned is left to evict for a ${size}-byte chunk`, { retryable: false, data: { bytes: this.bytes, maxBytes: this.maxBytes } })
  }

  /** Frees room: stale orphan chunks, else the least recently used unpinned file, else any orphan. */
  private evictOne (forHash: string): boolean {
    const free = (list: Array<{ hash: string, size: number }>): number => {
      let n = 0
      for (const c of list) {
        if (this.busy.has(c.hash) || this.writes.has(c.hash)) continue
        if (this.index.deleteChunk(c.hash)) { this.bytes -= c.size; n++ }
        this.removeFile(c.hash)
      }
      return n
    }
    const now = this.tick()
    if (free(this.index.orphans(now - ORPHAN_GRACE_MS, 64)) > 0) return true
    for (const id of this.index.victims(forHash)) {
      const chunks = this.index.tx(() => {
        const c = this.index.exclusiveChunks(id)
        this.index.deleteFile(id)
        return c
      })
      this.manifests.delete(id)
      this.counts.evictions++
      const n = free(chunks)
      this.log.debug({ id, chunks: n }, 'data store: evicted a file')
      return true
    }
    return free(this.index.orphans(now + 1, 64)) > 0
  }

  async getChunk (hash: string, into?: Uint8Array): Promise<Uint8Array | undefined> {
    this.assertOpen()
    const size = isHash(hash) ? this.index.chunkSize(hash) : undefined
    if (size === undefined) { this.counts.misses++; return undefined }
    const got = await this.disk.readWithIdentity(hash, into)
    const bytes = got?.bytes
    if (bytes !== undefined && bytes.byteLength === size && sha256Hex(bytes) === hash) { this.noteVerified(hash, got!.identity); return bytes }
    this.verified.delete(hash)
    if (this.writes.has(hash)) return undefined // being rewritten right now: not ours to delete
    if (this.index.deleteChunk(hash)) this.bytes -= size
    if (bytes === undefined) {
      this.counts.misses++
      this.log.warn({ hash }, 'data store: an indexed chunk file was gone')
      return undefined
    }
    this.removeFile(hash)
    this.counts.corrupt++
    this.log.warn({ hash, size: bytes.byteLength }, 'data store: a chunk file was corrupt; discarded')
    return undefined
  }

  /**
   * A chunk to send to a peer, which hashes it again on receipt (every transfer is verified
   * there, and a corrupt one is fetched from another holder). Here the bytes are hashed only
   * when the file is not the one hashed when it was written or last verified: a chunk file
   * written to (by anything: its ctime moves) is hashed before it leaves, and discarded when
   * corrupt, as on every read by getChunk.
   */
  async getChunkToSend (hash: string, into?: Uint8Array): Promise<Uint8Array | undefined> {
    this.assertOpen()
    const known = isHash(hash) ? this.verified.get(hash) : undefined
    if (known === undefined) return await this.getChunk(hash, into)
    const size = this.index.chunkSize(hash)
    if (size === undefined) { this.verified.delete(hash); this.counts.misses++; return undefined }
    const got = await this.disk.readWithIdentity(hash, into)
    if (got !== undefined && got.identity === known && got.bytes.byteLength === size) return got.bytes
    this.verified.delete(hash)
    return await this.getChunk(hash, into)
  }

  private removeFile (hash: string): void {
    this.verified.delete(hash)
    this.disk.removeSync(hash)
  }

  private noteVerified (hash: string, identity: string): void {
    this.verified.delete(hash)
    this.verified.set(hash, identity)
    if (this.verified.size > VERIFIED_AT_REST) this.verified.delete(this.verified.keys().next().value!)
  }

  async hasChunks (hashes: string[]): Promise<boolean[]> {
    return hashes.map((h) => h === '' || (isHash(h) && this.index.hasChunk(h)))
  }

  async putManifest (bytes: Uint8Array, opts: Omit<ImportOptions, 'signal'> = {}): Promise<FileEntry> {
    this.assertOpen()
    const m = decodeManifest(bytes, maxManifestBytes(this.chunkSize))
    if (m.chunk > this.chunkSize) throw new DataError(ErrorCode.DATA_CORRUPT, `the manifest's chunk size ${m.chunk} is over this store's ${this.chunkSize}`)
    const id = manifestId(bytes)
    const distinct = distinctChunks(m)
    let storedBytes = 0
    for (const n of distinct.values()) storedBytes += n
    this.index.putFile({ id, name: opts.name ?? '', size: m.size, manifest: bytes, storedBytes, hashes: distinct.keys(), pin: opts.pin }, this.tick())
    this.cacheManifest(id, m)
    return this.get(id)!
  }

  private cacheManifest (id: string, m: FileManifest): void {
    this.manifests.delete(id)
    this.manifests.set(id, m)
    if (this.manifests.size > MANIFEST_CACHE) this.manifests.delete(this.manifests.keys().next().value!)
  }

  async importFile (path: string, opts: ImportOptions = {}): Promise<FileEntry> {
    const chunks: string[] = []
    let size = 0
    const held: string[] = []
    try {
      for await (const c of chunkFile(path, { chunkSize: this.chunkSize, ...(opts.signal === undefined ? {} : { signal: opts.signal }) })) {
        chunks.push(c.hash)
        size += c.size
        if (c.bytes === undefined) { this.counts.zeroChunks++; continue }
        this.hold(c.hash); held.push(c.hash)
        await this.storeVerified(c.hash, c.bytes)
      }
      return await this.putManifest(encodeManifest({ v: 1, size, chunk: this.chunkSize, chunks }), opts)
    } finally {
      for (const h of held) this.release(h)
    }
  }

  async importBytes (bytes: Uint8Array, opts: Omit<ImportOptions, 'signal'> = {}): Promise<FileEntry> {
    const chunks: string[] = []
    const held: string[] = []
    try {
      for (let at = 0; at < bytes.byteLength; at += this.chunkSize) {
        const c = bytes.subarray(at, Math.min(at + this.chunkSize, bytes.byteLength))
        if (isAllZero(c)) { chunks.push(''); this.counts.zeroChunks++; continue }
        const h = sha256Hex(c)
        chunks.push(h)
        this.hold(h); held.push(h)
        await this.storeVerified(h, c)
      }
      return await this.putManifest(encodeManifest({ v: 1, size: bytes.byteLength, chunk: this.chunkSize, chunks }), opts)
    } finally {
      for (const h of held) this.release(h)
    }
  }

  private hold (h: string): void { this.busy.set(h, (this.busy.get(h) ?? 0) + 1) }
  private release (h: string): void {
    const n = (this.busy.get(h) ?? 1) - 1
    if (n <= 0) this.busy.delete(h)
    else this.busy.set(h, n)
  }

  /** The manifest without counting a hit (for this package's readers). */
  private manifestOf (id: string): FileManifest | undefined {
    const cached = this.manifests.get(id)
    if (cached !== undefined) return cached
    const row = this.index.getFile(id)
    if (row === undefined) return undefined
    const m = decodeManifest(row.manifest)
    this.cacheManifest(id, m)
    return m
  }

  async getManifest (id: string): Promise<FileManifest | undefined> {
    this.assertOpen()
    const m = this.manifestOf(id)
    if (m === undefined) { this.counts.misses++; return undefined }
    this.hitFile(id)
    return m
  }

  private hitFile (id: string): void {
    this.index.hit(id, this.tick())
    this.counts.hits++
  }

  private need (id: string): FileManifest {
    const m = this.manifestOf(id)
    if (m === undefined) { this.counts.misses++; throw new DataError(ErrorCode.DATA_MISSING, `no file ${id} in this store`, { data: { id } }) }
    return m
  }

  async missing (id: string): Promise<string[]> {
    this.need(id)
    return this.index.missing(id)
  }

  async materialize (id: string, destPath: string, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const m = this.need(id)
    this.hitFile(id)
    await materializeFile(m, destPath, async (h) => await this.getChunk(h), opts.signal)
  }

  async readRange (id: string, offset: number, length: number): Promise<Uint8Array> {
    const m = this.need(id)
    this.hitFile(id)
    return await readFileRange(m, offset, length, async (h) => await this.getChunk(h))
  }

  async pin (id: string, holder: string): Promise<void> {
    this.need(id)
    this.index.pin(id, holder)
  }

  async unpin (id: string, holder: string): Promise<void> { this.index.unpin(id, holder) }

  async remove (id: string): Promise<void> {
    this.index.deleteFile(id)
    this.manifests.delete(id)
  }

  get (id: string): FileEntry | undefined {
    const row: FileRow | undefined = this.index.getFile(id)
    return row === undefined ? undefined : this.index.entry(row)
  }

  list (): FileEntry[] { return this.index.allFiles().map((r) => this.index.entry(r)) }

  async gc (): Promise<{ chunks: number, bytes: number }> {
    this.assertOpen()
    let chunks = 0
    let bytes = 0
    // bounded: each round deletes what it lists, and a round that deletes nothing stops
    for (;;) {
      const list = this.index.orphans(this.tick() + 1, 1024).filter((c) => !this.busy.has(c.hash) && !this.writes.has(c.hash))
      if (list.length === 0) break
      for (const c of list) {
        if (this.index.deleteChunk(c.hash)) { this.bytes -= c.size; chunks++; bytes += c.size }
        this.removeFile(c.hash)
      }
    }
    // chunk files the index does not know (a crash between a rename and its index row)
    const stray = await sweepUnindexed(this.disk, (h) => this.index.hasChunk(h) || this.writes.has(h))
    chunks += stray.chunks
    bytes += stray.bytes
    return { chunks, bytes }
  }

  stats (): StoreStats {
    const t = this.index.totals()
    return { files: t.files, chunks: t.chunks, bytes: this.bytes, maxBytes: this.maxBytes, ...this.counts }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.allSettled([...this.writes.values()])
    this.index.close()
  }

  private assertOpen (): void {
    if (this.closed) throw new DataError(ErrorCode.DATA_UNAVAILABLE, 'the data store is closed', { retryable: false })
  }
}

function byteLengthOf (bytes: Uint8Array | readonly Uint8Array[]): number {
  return bytes instanceof Uint8Array ? bytes.byteLength : bytes.reduce((n, p) => n + p.byteLength, 0)
}
