import { setMaxListeners } from 'node:events'
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { BadRequestError, ForbiddenError, combineSignals, toMvmError, type Logger } from '@mvm/core'
import type { PeerFilter } from './access.js'
import { MAX_HAS_HASHES, MAX_HASHES_PER_REQUEST, MAX_REQUEST_BYTES } from './constants.js'
import { isHash } from './digest.js'
import { encodeManifest } from './manifest.js'
import type { Uint8ArrayList } from 'uint8arraylist'
import type { BufferPool } from './buffer-pool.js'
import { chunkFrame, decodeRequest, responseFrame, toBitmap, type DataRequest, type DataResponse } from './protocol.js'
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
  /** Chunk-sized buffers to read chunks into before sending; absent: a new buffer per chunk. */
  sendPool?: BufferPool | undefined
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
  // every frame goes out through stream.send, in order; a false return means "wait for drain"
  const put = async (frame: Uint8Array | Uint8ArrayList): Promise<boolean> => {
    // uint8arraylist 2 and 3 (libp2p's) differ only in their types: both are marked by the
    // same Symbol.for, so libp2p takes ours as a list and sends its parts without joining them
    if (stream.send(frame as unknown as Uint8Array)) return true
    await stream.onDrain({ signal })
    return false
  }
  const send = async (r: DataResponse): Promise<void> => { await put(responseFrame(r)) }
  const sendChunk = async (hash: string, bytes: Uint8Array): Promise<boolean> => await put(chunkFrame(hash, bytes))
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

async function answer (req: DataRequest, ctx: ServeContext, send: (r: DataResponse) => Promise<void>, sendChunk: (hash: string, bytes: Uint8Array) => Promise<boolean>, signal: AbortSignal): Promise<void> {
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
  // the next chunk is read from disk while this one is sent, into a pooled buffer when the
  // transport allows it: a buffer that send() took at once is already encrypted and comes back;
  // one that had to wait for drain may still be queued in libp2p, so it is left to the GC
  const pool = ctx.sendPool
  const read = (i: number): Promise<{ bytes: Uint8Array | undefined, into: Uint8Array | undefined }> | undefined => {
    if (i >= req.hashes.length) return undefined
    const into = pool?.take()
    const p = store.getChunkToSend(req.hashes[i]!, into).then((bytes) => ({ bytes, into }), (err) => {
      if (into !== undefined) pool!.give(into)
      throw err
    })
    p.catch(() => {}) // awaited below unless the request fails first
    return p
  }
  let next = read(0)
  try {
    for (let i = 0; i < req.hashes.length; i++) {
      const hash = req.hashes[i]!
      const { bytes, into } = await next!
      next = read(i + 1)
      const pooled = into !== undefined && bytes !== undefined && bytes.buffer === into.buffer
      if (into !== undefined && !pooled) pool!.give(into)
      if (bytes === undefined) { await send({ type: 'missing', hash }); continue }
      let took = false
      try { took = await sendChunk(hash, bytes) } finally {
        if (pooled) { if (took) pool!.give(into); else pool!.drop(into) }
      }
      ctx.counters.bytesOut += bytes.byteLength
      ctx.counters.chunksOut++
    }
  } finally {
    // a chunk read ahead for a frame that will not be sent
    void next?.then(({ into }) => { if (into !== undefined) pool!.give(into) }, () => {})
  }
  await send({ type: 'end' })
}
