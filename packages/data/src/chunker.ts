import { open } from 'node:fs/promises'
import { throwIfAborted } from '@mvm/core'
import { isAllZero, sha256Hex } from './digest.js'
import { CHUNK_SIZE } from './types.js'

/** One chunk of a file: `hash` is "" and `bytes` undefined for an all-zero chunk. */
export interface FileChunk {
  index: number
  /** Byte length of this chunk (the last may be shorter than the chunk size). */
  size: number
  hash: string
  bytes: Uint8Array | undefined
}

export interface ChunkFileOptions {
  chunkSize?: number
  signal?: AbortSignal
}

/**
 * Streams a file as chunks: one chunk-sized buffer at a time (a fresh one per chunk, so a
 * consumer may keep it), never the whole file.
 */
export async function * chunkFile (path: string, opts: ChunkFileOptions = {}): AsyncGenerator<FileChunk> {
  const chunkSize = opts.chunkSize ?? CHUNK_SIZE
  const fh = await open(path, 'r')
  try {
    const size = (await fh.stat()).size
    const count = Math.ceil(size / chunkSize)
    for (let index = 0; index < count; index++) {
      throwIfAborted(opts.signal)
      const want = Math.min(chunkSize, size - index * chunkSize)
      const buf = new Uint8Array(want)
      let got = 0
      // a read may return fewer bytes than asked: bounded by the chunk's length
      while (got < want) {
        const { bytesRead } = await fh.read(buf, got, want - got, index * chunkSize + got)
        if (bytesRead === 0) throw new Error(`${path} shrank while it was read (chunk ${index})`)
        got += bytesRead
      }
      if (isAllZero(buf)) yield { index, size: want, hash: '', bytes: undefined }
      else yield { index, size: want, hash: sha256Hex(buf), bytes: buf }
    }
  } finally {
    await fh.close()
  }
}
