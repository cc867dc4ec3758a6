import { setMaxListeners } from 'node:events'
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { BadRequestError, ForbiddenError, combineSignals, toMvmError, type Logger } from '@mvm/core'
import type { PeerFilter } from './access.js'
import { MAX_HAS_HASHES, MAX_HASHES_PER_REQUEST, MAX_REQUEST_BYTES } from './constants.js'
import { isHash } from './digest.js'
import { encodeManifest } from './manifest.js'
import { decodeRequest, encodeChunkResponse, encodeResponse, toBitmap, type DataRequest, type DataResponse } from './protocol.js'
import type { DataStore, TransferCounters } from './types.js'

export interface ServeContext {
  store: DataStore
  log: Logger
  counters: TransferCounters
  /** The service's life: aborted on stop. */
  signal: AbortSignal
  /** Overall deadline of one served request. */
  timeoutMs: number
  chunkSize: number
  /** Set when this node is a second-level cache: makes the file's manifest and these chunks local from upstream. */
  fill: ((fileId: string, hashes: string[], signal: AbortSignal) => Promise<void>) | undefined
  /** Which peers are served (access.ts); absent: all. */
  mayServe?: PeerFilter | undefined
}

function checkHashes (hashes: string[], max: number): void {
  if (hashes.length > max) throw new BadRequestError(`at most ${max} hashes per request, got ${hashes.length}`)
  for (const h of hashes) if (!isHash(h)) throw new BadRequestError(`"${String(h).slice(0, 80)}" is not a chunk name`)
}

/** The listener side of /mvm/data/1.0.0: one request per stream, frames written with backpressure. */
export async function serveStream (stream: Stream, remotePeer: string, ctx: ServeContext): Promise<void> {
  // listen at once: the request (and the dialer's half-close) may already be on its way
  const lp = lpStream(stream, { maxDataLength: MAX_REQUEST_BYTES })
  const signal = combineSignals([ctx.signal], ctx.timeoutMs)
  // libp2p's writes and close under backpressure each leave an abort listener on the signal
  // until the request ends: up to one per frame, so more than Node's default warning bound of 10
  setMaxListeners(MAX_HASHES_PER_REQUEST + 8, signal)
  const onAbort = (): void => { stream.abort(toMvmError(signal.reason)) }
  signal.addEventListener('abort', onAbort, { once: true })
  const send = async (r: DataResponse): Promise<void> => { await lp.write(encodeResponse(r), { signal }) }
  // uint8arraylist 2 and 3 (libp2p's) differ only in their types: both are marked by the same
  // Symbol.for, so libp2p takes ours as a list and sends its parts without joining them
  const sendChunk = async (hash: string, bytes: Uint8Array): Promise<void> => { await lp.write(encodeChunkResponse(hash, bytes) as unknown as Parameters<typeof lp.write>[0], { signal }) }
  let req: DataRequest | undefined
  try {
    req = decodeRequest((await lp.read({ signal })).subarray())
    if (ctx.mayServe !== undefined && !await ctx.mayServe(remotePeer)) throw new ForbiddenError(`this node serves its data only to its group's admitted members; ${remotePeer} is not one`)
    await answer(req, ctx, send, sendChunk, signal)
    await stream.close({ signal })
    ctx.counters.requestsServed++
  } catch (err) {
    const e = toMvmError(err)
    ctx.log.debug({ peer: remotePeer, req: req?.type, code: e.code, err: e.message }, 'data: a request failed')
    if (signal.aborted || stream.status !== 'open' || stream.writeStatus !== 'writable') { stream.abort(e); return }
    try {
      await send({ type: 'error', code: e.code, message: e.message })
      await stream.close({ signal })
    } catch { stream.abort(e) }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function answer (req: DataRequest, ctx: ServeContext, send: (r: DataResponse) => Promise<void>, sendChunk: (hash: string, bytes: Uint8Array) => Promise<void>, signal: AbortSignal): Promise<void> {
  const { store } = ctx
  if (req.type === 'getManifest') {
    if (!isHash(req.id)) throw new BadRequestError(`"${String(req.id).slice(0, 80)}" is not a file id`)
    if (store.get(req.id) === undefined && ctx.fill !== undefined) await ctx.fill(req.id, [], signal).catch((err) => { ctx.log.debug({ id: req.id, err: (err as Error).message }, 'data: upstream has no manifest') })
    const m = await store.getManifest(req.id)
    await send(m === undefined ? { type: 'notFound', id: req.id } : { type: 'manifest', bytes: encodeManifest(m) })
    return
  }
  checkHashes(req.hashes, req.type === 'has' ? MAX_HAS_HASHES : MAX_HASHES_PER_REQUEST)
  if (req.type === 'has') {
    await send({ type: 'hasReply', present: toBitmap(await store.hasChunks(req.hashes)) })
    return
  }
  if (ctx.fill !== undefined && isHash(req.fileId)) {
    const have = await store.hasChunks(req.hashes)
    const lacking = req.hashes.filter((_, i) => !have[i]!)
    if (lacking.length > 0 || store.get(req.fileId) === undefined) {
      // what upstream cannot supply is answered Missing: the dialer asks its next holder
      await ctx.fill(req.fileId, lacking, signal).catch((err) => { ctx.log.debug({ id: req.fileId, err: (err as Error).message }, 'data: upstream fetch failed') })
    }
  }
  // the next chunk is read from disk while this one is sent
  const read = (i: number): Promise<Uint8Array | undefined> | undefined => {
    if (i >= req.hashes.length) return undefined
    const p = store.getChunkToSend(req.hashes[i]!)
    p.catch(() => {}) // awaited below unless the request fails first
    return p
  }
  let next = read(0)
  for (let i = 0; i < req.hashes.length; i++) {
    const hash = req.hashes[i]!
    const bytes = await next
    next = read(i + 1)
    if (bytes === undefined) { await send({ type: 'missing', hash }); continue }
    await sendChunk(hash, bytes)
    ctx.counters.bytesOut += bytes.byteLength
    ctx.counters.chunksOut++
  }
  await send({ type: 'end' })
}
