import { createHash, type Hash } from 'node:crypto'
import protobuf from 'protobufjs'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'
import { ProtocolError } from '@mvm/core'
import type { BufferPool } from './buffer-pool.js'
import { CHUNK_BYTES_TAG, CHUNK_HASH_TAG, decodeResponse, RESPONSE_CHUNK_TAG, type DataResponse } from './protocol.js'

/**
 * A response as the dialer receives it. A chunk arrives in a pooled buffer, already hashed
 * (`sha256` is the hash of `bytes`, to compare with the name the holder gave); whoever takes
 * it calls `release` once the bytes are stored or dropped.
 */
export type ReceivedResponse =
  | Exclude<DataResponse, { type: 'chunk' }>
  | { type: 'chunk', hash: string, bytes: Uint8Array, size: number, sha256: string, release: () => void }

/** A chunk frame's header is at most this long: tags, two varints and a 64-digit hash. */
const CHUNK_HEAD_MAX = 96
/** Frames this short are never chunk frames worth streaming (an `end`, a `missing`). */
const SMALL_FRAME = 256

interface Filling { hash: string, size: number, got: number, buf: Uint8Array, hasher: Hash }

/**
 * Reads length-prefixed response frames from a stream as its pieces arrive. A chunk frame is
 * not gathered whole: each piece is hashed and copied into a pooled buffer the moment it
 * arrives, then dropped, so a 1 MiB chunk never sits as sixteen live pieces while the rest of
 * it comes in. When the pool is empty, pieces wait as they are until a buffer is given back.
 * They are not paused at the stream: libp2p aborts a paused stream holding over 4 MiB, and a
 * request asks for at most REQUEST_BYTES_TARGET, so `maxBuffered` bounds what waits. Other
 * frames are decoded whole through protobufjs, up to `maxFrameBytes`.
 */
export class FrameReader {
  private readonly pending = new Uint8ArrayList()
  private filling: Filling | undefined
  private readonly ready: ReceivedResponse[] = []
  private waiter: { resolve: (r: ReceivedResponse) => void, reject: (err: Error) => void } | undefined
  private failure: Error | undefined
  private ended = false
  private blocked = false
  private readonly onMessage = (evt: Event): void => { this.feed((evt as unknown as { data: Uint8Array | Uint8ArrayList }).data) }
  private readonly onEnd = (): void => { this.ended = true; this.wake() }
  private readonly onClose = (evt: Event): void => {
    const err = (evt as unknown as { error?: Error }).error
    if (err !== undefined) this.fail(err)
    else this.onEnd()
  }

  private readonly onFree = (): void => {
    this.blocked = false
    this.run()
  }

  constructor (private readonly stream: Stream, private readonly pool: BufferPool, private readonly maxFrameBytes: number, private readonly maxBuffered: number) {
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('remoteCloseWrite', this.onEnd)
    stream.addEventListener('close', this.onClose)
  }

  /** The next frame; rejects when the stream ends first or fails. */
  async read (signal?: AbortSignal): Promise<ReceivedResponse> {
    const r = this.ready.shift()
    if (r !== undefined) return r
    if (this.failure !== undefined) throw this.failure
    if (this.ended && !this.blocked) throw new ProtocolError('data protocol: the stream ended before the reply did')
    signal?.throwIfAborted()
    return await new Promise<ReceivedResponse>((resolve, reject) => {
      const onAbort = (): void => { this.waiter = undefined; reject(signal!.reason as Error) }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiter = {
        resolve: (x) => { signal?.removeEventListener('abort', onAbort); resolve(x) },
        reject: (e) => { signal?.removeEventListener('abort', onAbort); reject(e) }
      }
    })
  }

  /** Stops listening and gives back every pooled buffer this reader still holds. */
  close (): void {
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('remoteCloseWrite', this.onEnd)
    this.stream.removeEventListener('close', this.onClose)
    this.pool.cancel(this.onFree)
    if (this.filling !== undefined) { this.pool.give(this.filling.buf); this.filling = undefined }
    for (const r of this.ready.splice(0)) if (r.type === 'chunk') r.release()
    this.pending.consume(this.pending.byteLength)
    this.failure ??= new ProtocolError('data protocol: the reader was closed')
  }

  private fail (err: Error): void {
    if (this.failure !== undefined) return
    this.failure = err
    const w = this.waiter
    this.waiter = undefined
    w?.reject(err)
  }

  private wake (): void {
    const w = this.waiter
    if (w === undefined) return
    const r = this.ready.shift()
    if (r !== undefined) { this.waiter = undefined; w.resolve(r); return }
    // a reader waiting for a pooled buffer still has frames to come out of what it holds
    if (this.ended && !this.blocked) { this.waiter = undefined; w.reject(new ProtocolError('data protocol: the stream ended before the reply did')) }
  }

  private feed (data: Uint8Array | Uint8ArrayList): void {
    if (this.failure !== undefined) return
    this.pending.append(data)
    if (this.pending.byteLength > this.maxBuffered) {
      this.fail(new ProtocolError(`data protocol: the holder sent over ${this.maxBuffered} bytes not yet read`))
      this.stream.abort(this.failure!)
      return
    }
    this.run()
  }

  private run (): void {
    if (this.failure !== undefined) return
    try { this.pump() } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)))
      this.stream.abort(this.failure!)
      return
    }
    this.wake()
  }

  private pump (): void {
    const p = this.pending
    while (p.byteLength > 0 && !this.blocked) {
      const f = this.filling
      if (f !== undefined) {
        const take = Math.min(f.size - f.got, p.byteLength)
        for (const piece of p.sublist(0, take)) {
          f.hasher.update(piece)
          f.buf.set(piece, f.got)
          f.got += piece.byteLength
        }
        p.consume(take)
        if (f.got === f.size) this.finishChunk(f)
        continue
      }
      const prefix = readVarint(p)
      if (prefix === undefined) return
      const [len, at] = prefix
      if (len > this.maxFrameBytes) throw new ProtocolError(`data protocol: a ${len}-byte frame is over the ${this.maxFrameBytes}-byte bound`)
      if (len > SMALL_FRAME) {
        if (p.byteLength < at + Math.min(len, CHUNK_HEAD_MAX)) return
        const head = chunkHead(p.subarray(at, at + Math.min(len, CHUNK_HEAD_MAX)), len)
        if (head !== undefined) {
          if (head.size > this.pool.size) throw new ProtocolError(`data protocol: a ${head.size}-byte chunk is over the ${this.pool.size}-byte chunk size`)
          const buf = this.pool.take()
          if (buf === undefined) {
            this.blocked = true
            this.pool.whenFree(this.onFree)
            return
          }
          p.consume(at + head.headLength)
          this.filling = { hash: head.hash, size: head.size, got: 0, buf, hasher: createHash('sha256') }
          if (head.size === 0) this.finishChunk(this.filling)
          continue
        }
      }
      if (p.byteLength < at + len) return
      const frame = p.subarray(at, at + len)
      p.consume(at + len)
      const r = decodeResponse(frame)
      this.push(r.type === 'chunk' ? this.unpooledChunk(r.hash, r.bytes) : r)
    }
  }

  /** A chunk frame laid out otherwise than ours (the .proto allows it): decoded whole, outside the pool. */
  private unpooledChunk (hash: string, bytes: Uint8Array): ReceivedResponse {
    const buf = new Uint8Array(bytes)
    return { type: 'chunk', hash, bytes: buf, size: buf.byteLength, sha256: createHash('sha256').update(buf).digest('hex'), release: () => {} }
  }

  private finishChunk (f: Filling): void {
    this.filling = undefined
    let released = false
    const release = (): void => { if (!released) { released = true; this.pool.give(f.buf) } }
    this.push({ type: 'chunk', hash: f.hash, bytes: f.buf.subarray(0, f.size), size: f.size, sha256: f.hasher.digest('hex'), release })
  }

  private push (r: ReceivedResponse): void {
    this.ready.push(r)
    this.wake()
  }
}

/** An unsigned varint at the list's start: [value, bytes it took], or undefined when cut short. */
function readVarint (list: Uint8ArrayList): [number, number] | undefined {
  let value = 0
  let mul = 1
  for (let i = 0; i < 5; i++) {
    if (i >= list.byteLength) return undefined
    const b = list.get(i)
    value += (b & 0x7f) * mul
    if (b < 0x80) return [value, i + 1]
    mul *= 128
  }
  throw new ProtocolError('data protocol: a frame length prefix longer than 5 bytes')
}

/**
 * The header of a Response{chunk} frame of `frameLength` bytes laid out as encodeChunkResponse
 * writes it (response tag, length, hash, bytes tag, length, then the bytes to the frame's
 * end), or undefined for any other frame.
 */
function chunkHead (head: Uint8Array, frameLength: number): { hash: string, size: number, headLength: number } | undefined {
  try {
    const r = protobuf.Reader.create(head)
    if (r.uint32() !== RESPONSE_CHUNK_TAG) return undefined
    const inner = r.uint32()
    if (r.pos + inner !== frameLength || r.uint32() !== CHUNK_HASH_TAG) return undefined
    const hash = r.string()
    if (r.uint32() !== CHUNK_BYTES_TAG) return undefined
    const size = r.uint32()
    if (r.pos + size !== frameLength) return undefined
    return { hash, size, headLength: r.pos }
  } catch {
    return undefined // cut short or malformed: protobufjs, on the whole frame, says what is wrong
  }
}
