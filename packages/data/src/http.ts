import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError, DataError, ErrorCode, ForbiddenError, NotFoundError, silentLogger, type Logger } from '@mvm/core'
import type { DataReader } from './access.js'
import { maxFrameBytes, maxManifestBytes } from './constants.js'
import { isHash } from './digest.js'
import { drained, MethodNotAllowedError, readBody, sendError, sendJson } from './http-io.js'
import { chunkLength, decodeManifest, distinctChunks, encodeManifest } from './manifest.js'
import { coveringChunks } from './reader.js'
import type { DataStore, FileManifest } from './types.js'

export interface DataHttpInit {
  store: DataStore
  log?: Logger
  /** Bound on any request body (default: the chunk size + 64 KiB); a chunk body is also bound by the chunk size. */
  maxUploadBytes?: number
}

export interface DataHttp {
  /**
   * Serves a request under /data/; false when the path is not one of its own. With `reader`,
   * files are listed, read and removed only where it allows, and its uploads are told to it.
   */
  handle: (req: IncomingMessage, res: ServerResponse, url: URL, reader?: DataReader) => Promise<boolean>
}

/** Hashes one POST /data/has may name. */
export const MAX_HAS_REQUEST = 16_384

const PREFIX = '/data'

/**
 * The data routes for clients (the CLI, foreign tools), mounted on the node's HTTP server:
 *   POST /data/has, PUT /data/chunks/<hash>, PUT /data/files?name=N[&pin=H],
 *   GET /data/files, GET|HEAD /data/files/<id> (one Range), GET /data/files/<id>/manifest,
 *   DELETE /data/files/<id>. Errors are JSON {code, message}.
 */
export function createDataHttp (init: DataHttpInit): DataHttp {
  const { store } = init
  const log = init.log ?? silentLogger()
  const maxBody = init.maxUploadBytes ?? maxFrameBytes(store.chunkSize)

  const routes = async (req: IncomingMessage, res: ServerResponse, url: URL, parts: string[], reader: DataReader | undefined): Promise<void> => {
    const readable = (id: string): void => {
      if (reader !== undefined && store.get(id) !== undefined && !reader.mayRead(id)) throw new ForbiddenError(`file ${id} is not yours: it belongs to no job of yours and you did not upload it`, { data: { id } })
    }
    const method = req.method ?? 'GET'
    const [top, arg, sub] = parts
    if (top === 'has' && parts.length === 1) {
      allow(method, ['POST'])
      const body = await readBody(req, maxBody)
      let hashes: unknown
      try { hashes = (JSON.parse(Buffer.from(body).toString('utf8')) as { hashes?: unknown }).hashes } catch { throw new BadRequestError('the body is not JSON') }
      if (!Array.isArray(hashes) || hashes.length > MAX_HAS_REQUEST || !hashes.every(isHash)) throw new BadRequestError(`the body must be {"hashes": [...]} with at most ${MAX_HAS_REQUEST} chunk names`)
      const have = await store.hasChunks(hashes)
      sendJson(res, 200, { missing: hashes.filter((_, i) => !have[i]!) })
      return
    }
    if (top === 'chunks' && arg !== undefined && parts.length === 2) {
      allow(method, ['PUT'])
      if (!isHash(arg)) throw new BadRequestError(`"${String(arg).slice(0, 80)}" is not a chunk name`)
      const bytes = await readBody(req, Math.min(maxBody, store.chunkSize))
      await store.putChunk(arg, bytes)
      res.writeHead(204).end()
      return
    }
    if (top === 'files' && arg === undefined) {
      allow(method, ['GET', 'PUT'])
      if (method === 'GET') { sendJson(res, 200, reader === undefined ? store.list() : store.list().filter((e) => reader.mayRead(e.id))); return }
      const bytes = await readBody(req, Math.min(maxBody, maxManifestBytes(store.chunkSize)))
      const m = decodeManifest(bytes)
      const hashes = [...distinctChunks(m).keys()]
      const have = await store.hasChunks(hashes)
      const missing = hashes.filter((_, i) => !have[i]!)
      if (missing.length > 0) {
        sendError(req, res, new DataError(ErrorCode.DATA_MISSING, `${missing.length} chunks of this file are not on the server: PUT them first`), { missing })
        return
      }
      const name = url.searchParams.get('name') ?? undefined
      const pin = url.searchParams.get('pin') ?? undefined
      const e = await store.putManifest(bytes, { ...(name === undefined ? {} : { name }), ...(pin === undefined ? {} : { pin }) })
      reader?.stored(e.id)
      sendJson(res, 200, { id: e.id, size: e.size })
      return
    }
    if (top === 'files' && arg !== undefined && (parts.length === 2 || (parts.length === 3 && sub === 'manifest'))) {
      if (!isHash(arg)) throw new NotFoundError(`no file ${String(arg).slice(0, 80)}`)
      readable(arg)
      if (sub === 'manifest') {
        allow(method, ['GET'])
        const m = await manifestOf(arg)
        const bytes = encodeManifest(m)
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': bytes.byteLength, etag: `"${arg}"` }).end(bytes)
        return
      }
      allow(method, ['GET', 'HEAD', 'DELETE'])
      if (method === 'DELETE') {
        if (store.get(arg) === undefined) throw new NotFoundError(`no file ${arg}`)
        await store.remove(arg)
        res.writeHead(204).end()
        return
      }
      await sendFile(req, res, arg, await manifestOf(arg))
      return
    }
    throw new NotFoundError(`no data route ${method} ${url.pathname}`)
  }

  const manifestOf = async (id: string): Promise<FileManifest> => {
    const m = store.get(id) === undefined ? undefined : await store.getManifest(id)
    if (m === undefined) throw new NotFoundError(`no file ${id}`)
    return m
  }

  const sendFile = async (req: IncomingMessage, res: ServerResponse, id: string, m: FileManifest): Promise<void> => {
    const range = parseRange(req.headers.range, m.size)
    if (range === 'unsatisfiable') {
      res.writeHead(416, { 'content-range': `bytes */${m.size}`, 'content-type': 'application/json' }).end(JSON.stringify({ code: ErrorCode.BAD_REQUEST, message: 'unsatisfiable or unsupported range' }))
      return
    }
    const [start, end] = range ?? [0, m.size]
    const covering = coveringChunks(m, start, end)
    const need = [...new Set(covering.map((i) => m.chunks[i]!).filter((h) => h !== ''))]
    const have = await store.hasChunks(need)
    const missing = need.filter((_, i) => !have[i]!)
    if (missing.length > 0) throw new DataError(ErrorCode.DATA_MISSING, `${missing.length} chunks of ${id} are not on this node`, { data: { missing } })
    const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': end - start, 'accept-ranges': 'bytes', etag: `"${id}"` }
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end - 1}/${m.size}`
    res.writeHead(range === undefined ? 200 : 206, headers)
    if (req.method === 'HEAD') { res.end(); return }
    const zeros = new Uint8Array(m.chunk)
    for (const i of covering) {
      if (res.destroyed) return
      const h = m.chunks[i]!
      const bytes = h === '' ? zeros.subarray(0, chunkLength(m, i)) : await store.getChunk(h)
      // found corrupt (and discarded) after the headers went: cut the response short
      if (bytes === undefined) { res.destroy(new DataError(ErrorCode.DATA_CORRUPT, `chunk ${h} of ${id} was corrupt`)); return }
      const at = i * m.chunk
      res.write(bytes.subarray(Math.max(start, at) - at, Math.min(end, at + bytes.byteLength) - at))
      await drained(res)
    }
    res.end()
  }

  return {
    async handle (req, res, url, reader) {
      const path = url.pathname
      if (path !== PREFIX && !path.startsWith(PREFIX + '/')) return false
      const parts = path.slice(PREFIX.length).split('/').filter((p) => p !== '').map(decodeURIComponentSafe)
      try {
        await routes(req, res, url, parts, reader)
      } catch (err) {
        log.debug({ method: req.method, path, err: (err as Error).message }, 'data http: request failed')
        sendError(req, res, err)
      }
      return true
    }
  }
}

function allow (method: string, methods: string[]): void {
  if (!methods.includes(method)) throw new MethodNotAllowedError(method, methods)
}

function decodeURIComponentSafe (s: string): string {
  try { return decodeURIComponent(s) } catch { return s }
}

/** One `bytes=a-b` / `a-` / `-n` range as [start, end); undefined for none; several ranges are not supported. */
export function parseRange (header: string | undefined, size: number): [number, number] | undefined | 'unsatisfiable' {
  if (header === undefined) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (m === null || (m[1] === '' && m[2] === '')) return 'unsatisfiable'
  let start: number
  let end: number
  if (m[1] === '') {
    const n = Number(m[2])
    start = Math.max(0, size - n)
    end = size
  } else {
    start = Number(m[1])
    end = m[2] === '' ? size : Math.min(size, Number(m[2]) + 1)
  }
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start >= end || start >= size) return 'unsatisfiable'
  return [start, end]
}
