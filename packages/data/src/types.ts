import type { Stream } from '@libp2p/interface'
import type { Logger } from '@mvm/core'
import type { PeerFilter } from './access.js'

/** Files are cut into chunks of this size (the last one may be shorter). */
export const CHUNK_SIZE = 1024 * 1024

/** The libp2p protocol id of chunk and manifest transfers between nodes. */
export const DATA_PROTOCOL = '/mvm/data/1.0.0'

/**
 * A file as a list of chunk names. `chunks[i]` is the hex sha256 of chunk i, or "" when the
 * chunk is all zeros: such a chunk is never stored nor sent. The file's content id is the hex
 * sha256 of this manifest's canonical JSON (`encodeManifest`), so equal content has one id.
 */
export interface FileManifest {
  v: 1
  size: number
  chunk: number
  chunks: string[]
}

/** What a node's store knows of one file. */
export interface FileEntry {
  id: string
  name: string
  size: number
  /** Bytes of distinct non-zero chunks (what the file costs in a store of its own). */
  storedBytes: number
  hits: number
  pins: string[]
  createdAt: number
  lastUsedAt: number
}

/** `hits`/`misses`/`corrupt`/`evictions` count since the store was opened; the rest is its current state. */
export interface StoreStats {
  files: number
  chunks: number
  bytes: number
  maxBytes: number
  /** Reads of a present file: getManifest, materialize, readRange. */
  hits: number
  /** getManifest of an unknown file, getChunk of an absent chunk. */
  misses: number
  /** Chunks found corrupt on a read (and discarded). */
  corrupt: number
  evictions: number
  /** Chunk writes skipped because the same chunk was already stored (or being written). */
  dedupChunks: number
  /** All-zero chunks met on import or put: never stored. */
  zeroChunks: number
}

export interface ImportOptions {
  name?: string
  /** Pins the file under this holder name (e.g. `job:<id>`), so eviction leaves it. */
  pin?: string
  signal?: AbortSignal
}

/** One node's content-addressed store (under `<dataDir>/data`). */
export interface DataStore {
  readonly dir: string
  readonly chunkSize: number
  importFile: (path: string, opts?: ImportOptions) => Promise<FileEntry>
  importBytes: (bytes: Uint8Array, opts?: Omit<ImportOptions, 'signal'>) => Promise<FileEntry>
  /**
   * Stores a chunk after checking that its bytes hash to `hash` (E_DATA_CORRUPT otherwise);
   * the bytes may come as the parts they were received in. `sha256`, when given, is the hash
   * of these bytes as the caller computed it while they arrived: compared, not recomputed.
   */
  putChunk: (hash: string, bytes: Uint8Array | readonly Uint8Array[], sha256?: string) => Promise<void>
  /** A verified chunk, or undefined when absent or found corrupt (a corrupt one is deleted). */
  getChunk: (hash: string) => Promise<Uint8Array | undefined>
  /**
   * A chunk for a peer (who verifies it on receipt): hashed here unless its file is unchanged
   * since its bytes were last hashed; otherwise as getChunk. Read into `into` when given and
   * large enough (the result is then a view of it).
   */
  getChunkToSend: (hash: string, into?: Uint8Array) => Promise<Uint8Array | undefined>
  hasChunks: (hashes: string[]) => Promise<boolean[]>
  putManifest: (bytes: Uint8Array, opts?: Omit<ImportOptions, 'signal'>) => Promise<FileEntry>
  getManifest: (id: string) => Promise<FileManifest | undefined>
  /** Distinct non-zero chunks of the file that this store lacks. */
  missing: (id: string) => Promise<string[]>
  /** Writes the file from local chunks (zero chunks left as holes); E_DATA_MISSING if one is absent. */
  materialize: (id: string, destPath: string, opts?: { signal?: AbortSignal }) => Promise<void>
  readRange: (id: string, offset: number, length: number) => Promise<Uint8Array>
  pin: (id: string, holder: string) => Promise<void>
  unpin: (id: string, holder: string) => Promise<void>
  remove: (id: string) => Promise<void>
  get: (id: string) => FileEntry | undefined
  list: () => FileEntry[]
  /** Removes chunks that no file entry refers to. */
  gc: () => Promise<{ chunks: number, bytes: number }>
  stats: () => StoreStats
  close: () => Promise<void>
}

export interface DataStoreInit {
  dir: string
  /** Bound on stored chunk bytes; least recently used unpinned files are evicted past it. */
  maxBytes: number
  chunkSize?: number
  log?: Logger
}

/** Where a file's chunks may be fetched from. */
export interface Holder { peerId: string, addrs: string[] }

/** The node's raw stream access (the same shape as @mvm/node's StreamAccess). */
export interface DataTransport {
  /**
   * True when a stream's `send()` that returns true has already copied the bytes (libp2p's
   * Noise encrypts them then and there): the service may then reuse its send buffers. Leave
   * unset for a transport that could hold on to the caller's bytes (no encryption, a test pipe).
   */
  readonly encryptsOnSend?: boolean
  handle: (protocol: string, handler: (stream: Stream, remotePeer: string) => void) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dial: (peerId: string, addrs: string[], protocol: string, options?: { signal?: AbortSignal }) => Promise<Stream>
}

export interface FetchOptions {
  signal?: AbortSignal
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

export interface FetchStats {
  /** Bytes received over the network for this fetch. */
  bytes: number
  chunks: number
  /** Chunks that were already in the local store. */
  fromCache: number
  perHolder: Record<string, number>
}

/**
 * Totals since the service was created. Bytes are chunk payload bytes (what the chunks
 * weigh), not manifests nor framing; `bytesIn` includes second-level cache fills.
 */
export interface TransferCounters {
  bytesIn: number
  bytesOut: number
  chunksIn: number
  chunksOut: number
  requestsServed: number
  upstreamFetches: number
  corruptReceived: number
  /** Chunk positions a fetch did not request because an identical chunk was already local or in the same request. */
  dedupSkipped: number
  /** All-zero chunk positions a fetch did not request (they are holes, never sent). */
  zeroSkipped: number
}

export interface DataService {
  start: () => Promise<void>
  stop: () => Promise<void>
  /** Makes the whole file local: manifest from the first holder that has it, then the missing chunks. */
  fetch: (id: string, holders: Holder[], opts?: FetchOptions) => Promise<FetchStats>
  /** Fetches only the chunks that cover [offset, offset+length) and returns those bytes. */
  fetchRange: (id: string, offset: number, length: number, holders: Holder[], opts?: FetchOptions) => Promise<Uint8Array>
  /** Makes only the file's manifest local (from the first holder that has it); its chunks come later, on demand. */
  fetchManifest: (id: string, holders: Holder[], opts?: { signal?: AbortSignal }) => Promise<FileManifest>
  counters: () => TransferCounters
}

export type { PeerFilter } from './access.js'

export interface DataServiceInit {
  store: DataStore
  transport: DataTransport
  log?: Logger
  /** Holders to fetch a file from when this node is asked for one it lacks (a second-level cache). */
  upstream?: (fileId: string) => Holder[]
  /** Chunk requests in flight per fetch (default 4). */
  inflight?: number
  /**
   * This node's peer id. A fetch never asks this node itself; and when it is among the
   * holders after the first (the peers of one job), it takes its share of the chunks from the
   * first holder and the rest from the other peers (see the fetcher's plan).
   */
  self?: string
  /**
   * Overall deadline of one request to a holder: dial, request and every reply frame
   * (default 30 s). A holder that misses it is treated as failed and the next one is asked.
   */
  requestTimeoutMs?: number
  /**
   * Which peers this node serves (default: any that dials it). A node holding several users'
   * files serves only its group's admitted members; what is refused gets E_FORBIDDEN.
   */
  mayServe?: PeerFilter
}
