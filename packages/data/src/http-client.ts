import { randomBytes } from 'node:crypto'
import { open, rename, unlink, type FileHandle } from 'node:fs/promises'
import { DataError, ErrorCode, errorFromJSON, MvmError, throwIfAborted } from '@mvm/core'
import { chunkFile } from './chunker.js'
import { isAllZero, sha256Hex } from './digest.js'
import { chunkLength, decodeManifest, encodeManifest, manifestId } from './manifest.js'
import { CHUNK_SIZE, type FileManifest } from './types.js'

export interface UploadOptions {
  name?: string
  /** Pins the file on the server under this holder name. */
  pin?: string
  signal?: AbortSignal
  onProgress?: (sentBytes: number, totalBytes: number) => void
  /** Chunk size to cut the file with (default CHUNK_SIZE); at most the server's. */
  chunkSize?: number
  /** The HTTP `Authorization` header for a server that requires authentication. */
  authorization?: string | undefined
}

export interface UploadResult { id: string, size: number, sentBytes: number }

export interface DownloadOptions {
  signal?: AbortSignal
  /** The HTTP `Authorization` header for a server that requires authentication. */
  authorization?: string | undefined
  onProgress?: (doneBytes: number, totalBytes: number) => void
}

function auth (authorization: string | undefined): Record<string, string> {
  return authorization === undefined ? {} : { authorization }
}

export interface DownloadResult { id: string, size: number }

/** Hashes per POST /data/has (the server takes up to 16,384). */
const HAS_BATCH = 4096
/** Chunk PUTs in flight. */
const PUTS_IN_FLIGHT = 4
/** The largest chunk size a download accepts from a manifest (bounds its buffer). */
const MAX_DOWNLOAD_CHUNK = 64 * 1024 * 1024

const endpoint = (base: string, path: string): string => base.replace(/\/+$/, '') + path

/** Throws the server's JSON error as the typed error it names. */
async function failed (res: Response, what: string): Promise<never> {
  let body: { code?: unknown, message?: unknown, missing?: unknown } = {}
  try { body = await res.json() as typeof body } catch {}
  const code = typeof body.code === 'string' ? body.code : ErrorCode.INTERNAL
  const message = typeof body.message === 'string' ? body.message : res.statusText
  throw errorFromJSON({ code, message: `${what}: HTTP ${res.status}: ${message}`, data: { status: res.status, missing: body.missing } })
}

async function readAt (fh: FileHandle, index: number, chunkSize: number, size: number): Promise<Uint8Array> {
  const want = Math.min(chunkSize, size - index * chunkSize)
  const buf = new Uint8Array(want)
  let got = 0
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, index * chunkSize + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return buf.subarray(0, got)
}

/**
 * Uploads a local file to a node's /data/ routes: cuts it into chunks (streamed), asks which
 * the server lacks, PUTs only those (zero chunks never), then PUTs the manifest.
 */
export async function uploadFile (baseUrl: string, path: string, opts: UploadOptions = {}): Promise<UploadResult> {
  const chunkSize = opts.chunkSize ?? CHUNK_SIZE
  const signal = opts.signal
  const chunks: string[] = []
  let size = 0
  for await (const c of chunkFile(path, { chunkSize, ...(signal === undefined ? {} : { signal }) })) { chunks.push(c.hash); size += c.size }
  const manifest: FileManifest = { v: 1, size, chunk: chunkSize, chunks }
  const first = new Map<string, number>()
  chunks.forEach((h, i) => { if (h !== '' && !first.has(h)) first.set(h, i) })

  const missing: string[] = []
  const distinct = [...first.keys()]
  for (let i = 0; i < distinct.length; i += HAS_BATCH) {
    const res = await fetch(endpoint(baseUrl, '/data/has'), { method: 'POST', headers: { 'content-type': 'application/json', ...auth(opts.authorization) }, body: JSON.stringify({ hashes: distinct.slice(i, i + HAS_BATCH) }), ...(signal === undefined ? {} : { signal }) })
    if (!res.ok) await failed(res, 'POST /data/has')
    missing.push(...((await res.json()) as { missing: string[] }).missing)
  }

  let sentBytes = 0
  let total = 0
  const fh = await open(path, 'r')
  try {
    const put = async (hashes: string[]): Promise<void> => {
      total += hashes.reduce((s, h) => s + chunkLength(manifest, first.get(h)!), 0)
      let next = 0
      const worker = async (): Promise<void> => {
        for (let k = next++; k < hashes.length; k = next++) {
          throwIfAborted(signal)
          const h = hashes[k]!
          const bytes = await readAt(fh, first.get(h)!, chunkSize, size)
          if (sha256Hex(bytes) !== h) throw new DataError(ErrorCode.DATA_CORRUPT, `${path} changed while it was uploaded (chunk ${first.get(h)!})`)
          const res = await fetch(endpoint(baseUrl, `/data/chunks/${h}`), { method: 'PUT', headers: { 'content-type': 'application/octet-stream', ...auth(opts.authorization) }, body: bytes, ...(signal === undefined ? {} : { signal }) })
          if (!res.ok) await failed(res, `PUT /data/chunks/${h}`)
          await res.arrayBuffer()
          sentBytes += bytes.byteLength
          opts.onProgress?.(sentBytes, total)
        }
      }
      await Promise.all(Array.from({ length: Math.min(PUTS_IN_FLIGHT, hashes.length) }, worker))
    }
    await put(missing)

    const q = new URLSearchParams()
    if (opts.name !== undefined) q.set('name', opts.name)
    if (opts.pin !== undefined) q.set('pin', opts.pin)
    const bytes = encodeManifest(manifest)
    // a chunk evicted on the server between our PUT and the manifest's is sent once more
    for (let attempt = 0; ; attempt++) {
      const res = await fetch(endpoint(baseUrl, `/data/files${q.toString() !== '' ? '?' + q.toString() : ''}`), { method: 'PUT', headers: { 'content-type': 'application/json', ...auth(opts.authorization) }, body: bytes, ...(signal === undefined ? {} : { signal }) })
      if (res.ok) {
        const r = await res.json() as { id: string, size: number }
        if (r.id !== manifestId(bytes)) throw new DataError(ErrorCode.DATA_CORRUPT, `the server named the file ${r.id}, not ${manifestId(bytes)}`)
        return { id: r.id, size: r.size, sentBytes }
      }
      if (res.status !== 409 || attempt > 0) await failed(res, 'PUT /data/files')
      const again = ((await res.json()) as { missing?: unknown }).missing
      if (!Array.isArray(again) || !again.every((h) => typeof h === 'string' && first.has(h))) throw new DataError(ErrorCode.DATA_MISSING, 'the server refused the manifest and named no chunks of it')
      await put(again as string[])
    }
  } finally {
    await fh.close()
  }
}

/**
 * Downloads a file from a node's /data/ routes into `destPath`, checking each chunk against
 * the manifest (whose sha256 must be the id) as it streams; zero chunks are left as holes.
 * Written to a temp name and renamed, so `destPath` is never a partial or unverified file.
 */
export async function downloadFile (baseUrl: string, id: string, destPath: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  const signal = opts.signal
  const init = { headers: auth(opts.authorization), ...(signal === undefined ? {} : { signal }) }
  const mres = await fetch(endpoint(baseUrl, `/data/files/${id}/manifest`), init)
  if (!mres.ok) await failed(mres, `GET /data/files/${id}/manifest`)
  const mbytes = new Uint8Array(await mres.arrayBuffer())
  if (manifestId(mbytes) !== id) throw new DataError(ErrorCode.DATA_CORRUPT, `the manifest served for ${id} does not hash to it`)
  const m = decodeManifest(mbytes)
  if (m.chunk > MAX_DOWNLOAD_CHUNK) throw new DataError(ErrorCode.DATA_CORRUPT, `chunk size ${m.chunk} is over ${MAX_DOWNLOAD_CHUNK}`)

  const res = await fetch(endpoint(baseUrl, `/data/files/${id}`), init)
  if (!res.ok) await failed(res, `GET /data/files/${id}`)
  const tmp = `${destPath}.part-${randomBytes(4).toString('hex')}`
  const fh = await open(tmp, 'w')
  let ok = false
  try {
    await fh.truncate(m.size)
    const buf = new Uint8Array(m.chunk)
    let fill = 0
    let index = 0
    let done = 0
    const flush = async (): Promise<void> => {
      if (index >= m.chunks.length) throw new DataError(ErrorCode.DATA_CORRUPT, `the server sent more than the ${m.size} bytes of ${id}`)
      const bytes = buf.subarray(0, fill)
      const want = m.chunks[index]!
      if (want === '' ? !isAllZero(bytes) : sha256Hex(bytes) !== want) throw new DataError(ErrorCode.DATA_CORRUPT, `chunk ${index} of ${id} does not match its manifest`, { data: { index } })
      if (want !== '') await fh.write(bytes, 0, bytes.byteLength, index * m.chunk)
      done += fill
      index++
      fill = 0
      opts.onProgress?.(done, m.size)
    }
    if (res.body !== null) {
      for await (const part of res.body as AsyncIterable<Uint8Array>) {
        let at = 0
        // bounded by the part's length: each round consumes at least one byte
        while (at < part.byteLength) {
          const n = Math.min(part.byteLength - at, chunkLength(m, index) - fill)
          if (n <= 0) throw new DataError(ErrorCode.DATA_CORRUPT, `the server sent more than the ${m.size} bytes of ${id}`)
          buf.set(part.subarray(at, at + n), fill)
          fill += n
          at += n
          if (fill === chunkLength(m, index)) await flush()
        }
      }
    }
    if (index !== m.chunks.length || fill !== 0) throw new DataError(ErrorCode.DATA_CORRUPT, `the download of ${id} ended after ${done} of ${m.size} bytes`)
    await fh.close()
    await rename(tmp, destPath)
    ok = true
    return { id, size: m.size }
  } catch (err) {
    throwIfAborted(signal)
    if (err instanceof MvmError) throw err
    throw new DataError(ErrorCode.DATA_UNAVAILABLE, `download of ${id} failed: ${(err as Error).message}`, { cause: err })
  } finally {
    if (!ok) {
      await fh.close().catch(() => {})
      await unlink(tmp).catch(() => {})
    }
  }
}
