// The dialer's frame reader, fed the way a libp2p stream feeds it ('message' events carrying
// whatever pieces the transport delivered), cut at every awkward place: chunks arrive hashed in
// pooled buffers, other frames decode, bad frames are protocol errors, an empty pool holds
// frames back without losing them, and every pooled buffer comes back.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import protobuf from 'protobufjs'
import { Uint8ArrayList } from 'uint8arraylist'
import type { Stream } from '@libp2p/interface'
import { ErrorCode } from '@mvm/core'
import { BufferPool } from '../src/buffer-pool.js'
import { FrameReader } from '../src/frame-reader.js'
import { encodeChunkResponse, encodeResponse, type DataResponse } from '../src/protocol.js'

const MiB = 1 << 20

/** What FrameReader uses of a stream: its events and abort. */
class PieceStream extends EventTarget {
  aborted: Error | undefined
  abort (err: Error): void { this.aborted = err }
  deliver (data: Uint8Array | Uint8ArrayList): void {
    this.dispatchEvent(Object.assign(new Event('message'), { data }))
  }

  end (): void { this.dispatchEvent(new Event('remoteCloseWrite')) }
}

const lp = (frame: Uint8Array): Uint8Array => protobuf.Writer.create().bytes(frame).finish()
const chunkFrame = (hash: string, bytes: Uint8Array): Uint8Array => lp(encodeChunkResponse(hash, bytes).subarray())
const frame = (r: DataResponse): Uint8Array => lp(encodeResponse(r))
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

function reader (pool: BufferPool, maxFrame = MiB + 65_536): { s: PieceStream, r: FrameReader } {
  const s = new PieceStream()
  return { s, r: new FrameReader(s as unknown as Stream, pool, maxFrame, 17 * MiB) }
}

/** Delivers `bytes` in pieces of `size` (the last shorter), each piece as its own event. */
function feed (s: PieceStream, bytes: Uint8Array, size: number): void {
  for (let at = 0; at < bytes.byteLength; at += size) s.deliver(bytes.subarray(at, at + size))
}

t.test('chunks of every length arrive hashed in pooled buffers, whatever the piece size', async (t) => {
  for (const piece of [1, 7, 65_519, 3 * MiB]) {
    const pool = new BufferPool(MiB, 4)
    const { s, r } = reader(pool)
    const sizes = piece === 1 ? [1, 127, 128, 300] : [1, 127, 128, 16_383, 16_384, MiB]
    const chunks = sizes.map((n) => randomBytes(n))
    const wire = Buffer.concat([...chunks.map((c) => chunkFrame(sha(c), c)), frame({ type: 'end' })])
    // a list of pieces in one event, as a stream delivers what queued up while nobody read
    if (piece === 3 * MiB) s.deliver(new Uint8ArrayList(wire.subarray(0, 5), wire.subarray(5)))
    else feed(s, wire, piece)
    for (const c of chunks) {
      const got = await r.read()
      if (got.type !== 'chunk') { t.fail(`a ${got.type} frame where a chunk was due`); return }
      t.equal(got.sha256, sha(c), `${c.byteLength} bytes in ${piece}-byte pieces: hashed as they came`)
      t.equal(got.hash, sha(c))
      t.ok(Buffer.from(got.bytes).equals(c), 'byte for byte')
      got.release()
      got.release() // a second release must not hand the buffer out twice
    }
    t.same(await r.read(), { type: 'end' })
    r.close()
    t.equal(pool.inUse, 0, 'every pooled buffer is back')
  }
})

t.test('other frames decode whole; a chunk laid out another way is still a chunk', async (t) => {
  const { s, r } = reader(new BufferPool(MiB, 2))
  const bytes = randomBytes(1000)
  feed(s, Buffer.concat([frame({ type: 'missing', hash: 'cd'.repeat(32) }), frame({ type: 'chunk', hash: sha(bytes), bytes }), frame({ type: 'error', code: 'E_X', message: 'no' })]), 33)
  t.same(await r.read(), { type: 'missing', hash: 'cd'.repeat(32) })
  const c = await r.read()
  t.ok(c.type === 'chunk' && c.sha256 === sha(bytes) && Buffer.from(c.bytes).equals(bytes), 'the same chunk as protobufjs encodes it')
  t.same(await r.read(), { type: 'error', code: 'E_X', message: 'no' })
})

t.test('bad frames are protocol errors and reset the stream', async (t) => {
  const broken = reader(new BufferPool(MiB, 2))
  feed(broken.s, lp(Buffer.concat([Buffer.from([0x1a, 0x7f, 0x0a]), randomBytes(300)])), 64)
  await t.rejects(broken.r.read(), { code: ErrorCode.PROTOCOL }, 'a broken chunk header')
  t.ok(broken.s.aborted, 'the stream is reset')

  const big = reader(new BufferPool(MiB, 2), 4096)
  big.s.deliver(protobuf.Writer.create().uint32(5000).finish())
  await t.rejects(big.r.read(), { code: ErrorCode.PROTOCOL, message: /over the 4096-byte bound/ }, 'a frame over the bound, refused from its length prefix')

  const huge = reader(new BufferPool(1024, 2))
  const c = randomBytes(2048)
  feed(huge.s, chunkFrame(sha(c), c), 512)
  await t.rejects(huge.r.read(), { code: ErrorCode.PROTOCOL, message: /over the 1024-byte chunk size/ }, 'a chunk over the chunk size')

  const cut = reader(new BufferPool(MiB, 2))
  const d = randomBytes(5000)
  cut.s.deliver(chunkFrame(sha(d), d).subarray(0, 3000))
  cut.s.end()
  await t.rejects(cut.r.read(), { code: ErrorCode.PROTOCOL, message: /ended before the reply did/ }, 'a stream that ends mid-chunk')
})

t.test('an empty pool holds frames back until a buffer returns, even past the stream end', async (t) => {
  const pool = new BufferPool(MiB, 1)
  const { s, r } = reader(pool)
  const a = randomBytes(70_000)
  const b = randomBytes(90_000)
  feed(s, Buffer.concat([chunkFrame(sha(a), a), chunkFrame(sha(b), b), frame({ type: 'end' })]), 65_519)
  s.end()
  const first = await r.read()
  t.ok(first.type === 'chunk' && first.sha256 === sha(a))
  let second: unknown
  const next = r.read().then((x) => { second = x; return x })
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(second, undefined, 'the second chunk waits for a buffer')
  if (first.type === 'chunk') first.release()
  const got = await next
  t.ok(got.type === 'chunk' && got.sha256 === sha(b) && Buffer.from(got.bytes).equals(b), 'and arrives whole once one is given back')
  if (got.type === 'chunk') got.release()
  t.same(await r.read(), { type: 'end' })
  t.equal(pool.inUse, 0)
})

t.test('closing a reader mid-reply gives back the buffers it held', async (t) => {
  const pool = new BufferPool(MiB, 4)
  const { s, r } = reader(pool)
  const a = randomBytes(10_000)
  const b = randomBytes(20_000)
  const wire = Buffer.concat([chunkFrame(sha(a), a), chunkFrame(sha(b), b)])
  s.deliver(wire.subarray(0, wire.byteLength - 100)) // the first whole, the second half in
  t.equal(pool.inUse, 2)
  r.close()
  t.equal(pool.inUse, 0, 'the ready chunk and the one being filled are both back')
  await t.rejects(r.read(), { code: ErrorCode.PROTOCOL })
})
