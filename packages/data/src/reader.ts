import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { BadRequestError, DataError, ErrorCode, throwIfAborted } from '@mvm/core'
import { chunkLength } from './manifest.js'
import type { FileManifest } from './types.js'

type ChunkSource = (hash: string) => Promise<Uint8Array | undefined>

function absent (m: FileManifest, index: number): DataError {
  const hash = m.chunks[index]!
  return new DataError(ErrorCode.DATA_MISSING, `chunk ${index} (${hash}) is not in this store`, { data: { hash, index } })
}

/**
 * Writes a file from its chunks: the size is set first with ftruncate, so zero chunks stay
 * holes (a sparse file); other chunks go with positional writes. Written to a temp name
 * beside `dest` and renamed, so `dest` is never half a file.
 */
export async function materializeFile (m: FileManifest, dest: string, get: ChunkSource, signal?: AbortSignal): Promise<void> {
  const tmp = `${dest}.part-${randomBytes(4).toString('hex')}`
  const fh = await open(tmp, 'w')
  let ok = false
  try {
    await fh.truncate(m.size)
    let last: { hash: string, bytes: Uint8Array } | undefined
    for (let i = 0; i < m.chunks.length; i++) {
      throwIfAborted(signal)
      const h = m.chunks[i]!
      if (h === '') continue
      const bytes = last?.hash === h ? last.bytes : await get(h)
      if (bytes === undefined) throw absent(m, i)
      if (bytes.byteLength !== chunkLength(m, i)) throw new DataError(ErrorCode.DATA_CORRUPT, `chunk ${i} (${h}) has ${bytes.byteLength} bytes, the manifest says ${chunkLength(m, i)}`)
      last = { hash: h, bytes }
      let done = 0
      // a positional write may write less than asked: bounded by the chunk's length
      while (done < bytes.byteLength) {
        const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, i * m.chunk + done)
        if (bytesWritten === 0) throw new Error(`no progress writing ${tmp}`)
        done += bytesWritten
      }
    }
    await fh.close()
    await rename(tmp, dest)
    ok = true
  } finally {
    if (!ok) {
      await fh.close().catch(() => {})
      await unlink(tmp).catch(() => {})
    }
  }
}

/** Checks a byte range against a file's size; returns the end clamped to the size. */
export function rangeEnd (size: number, offset: number, length: number): number {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new BadRequestError(`a range needs a non-negative integer offset and length, got ${offset}, ${length}`)
  }
  return Math.min(size, offset + length)
}

/** Indexes of the chunks covering [offset, end). */
export function coveringChunks (m: FileManifest, offset: number, end: number): number[] {
  const out: number[] = []
  if (end <= offset) return out
  for (let i = Math.floor(offset / m.chunk); i * m.chunk < end; i++) out.push(i)
  return out
}

/** Bytes [offset, offset+length) of a file (clamped to its size); zero chunks read as zeros. */
export async function readFileRange (m: FileManifest, offset: number, length: number, get: ChunkSource): Promise<Uint8Array> {
  const end = rangeEnd(m.size, offset, length)
  const out = new Uint8Array(Math.max(0, end - offset))
  for (const i of coveringChunks(m, offset, end)) {
    const h = m.chunks[i]!
    if (h === '') continue
    const bytes = await get(h)
    if (bytes === undefined) throw absent(m, i)
    const start = i * m.chunk
    const from = Math.max(offset, start) - start
    const to = Math.min(end, start + bytes.byteLength) - start
    out.set(bytes.subarray(from, to), start + from - offset)
  }
  return out
}
