/** Chunk hashes one GetChunks request may name (the protocol's bound). */
export const MAX_HASHES_PER_REQUEST = 64

/** Hashes one Has request may name. */
export const MAX_HAS_HASHES = 1024

/** Room for a frame's fields around its chunk bytes. */
export const FRAME_OVERHEAD = 64 * 1024

/** The largest frame a reader accepts for a given chunk size. */
export function maxFrameBytes (chunkSize: number): number { return chunkSize + FRAME_OVERHEAD }

/**
 * The largest manifest accepted: it must fit one frame. At 1 MiB chunks that is ~15,000
 * chunk names (~15 GiB of non-zero data; zero chunks cost 3 bytes each).
 */
export function maxManifestBytes (chunkSize: number): number { return chunkSize + FRAME_OVERHEAD / 2 }

/** A request frame (GetManifest / GetChunks / Has) is small. */
export const MAX_REQUEST_BYTES = 128 * 1024

/** Bytes of chunks one GetChunks request asks for at most (keeps a stream's read buffer bounded). */
export const REQUEST_BYTES_TARGET = 8 * 1024 * 1024

/** Default overall deadline of one request (dial + all its reply frames). */
export const REQUEST_TIMEOUT_MS = 30_000

/** Default chunk requests in flight per fetch. */
export const DEFAULT_INFLIGHT = 4

/** yamux lets at most 16 MiB per stream be in flight: the read buffer must hold that plus a frame. */
export const READ_BUFFER_BYTES = 17 * 1024 * 1024
