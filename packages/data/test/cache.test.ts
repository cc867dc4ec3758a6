import t from 'tap'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ErrorCode } from '@mvm/core'
import { distinctChunks } from '@mvm/data'
import { corruptChunk, startPeer } from './fixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

t.test('second-level cache: two clients through C, the origin sends the file once', async (t) => {
  const dir = t.testdir()
  const opts = { chunkSize: 64 * KiB }
  const o = await startPeer(t, join(dir, 'o'), opts)
  const c = await startPeer(t, join(dir, 'c'), { ...opts, upstream: () => [o.holder] })
  const x = await startPeer(t, join(dir, 'x'), opts)
  const y = await startPeer(t, join(dir, 'y'), opts)
  const bytes = randomBytes(2 * MiB)
  bytes.fill(0, 64 * KiB, 3 * 64 * KiB) // two zero chunks
  const e = await o.store.importBytes(bytes)
  const nonZero = [...distinctChunks((await o.store.getManifest(e.id))!).values()].reduce((s, n) => s + n, 0)
  t.equal(nonZero, bytes.byteLength - 2 * 64 * KiB)
  await Promise.all([x.service.fetch(e.id, [c.holder]), y.service.fetch(e.id, [c.holder])])
  t.equal(o.service.counters().bytesOut, nonZero, "the origin's bytesOut is the file's non-zero bytes, once")
  t.ok(c.service.counters().upstreamFetches >= 2)
  t.equal(c.service.counters().bytesOut, 2 * nonZero)
  for (const p of [x, y]) t.ok(Buffer.from(await p.store.readRange(e.id, 0, bytes.byteLength)).equals(bytes))
  t.same(await c.store.missing(e.id), [], 'C keeps a full copy')
})

t.test('fetchRange fetches only the covering chunks', async (t) => {
  const dir = t.testdir()
  const opts = { chunkSize: 16 * KiB }
  const a = await startPeer(t, join(dir, 'a'), opts)
  const b = await startPeer(t, join(dir, 'b'), opts)
  const bytes = randomBytes(64 * 16 * KiB)
  const e = await a.store.importBytes(bytes)
  const got = await b.service.fetchRange(e.id, 16 * KiB + 100, 16 * KiB, [a.holder])
  t.ok(Buffer.from(got).equals(bytes.subarray(16 * KiB + 100, 32 * KiB + 100)))
  t.equal(b.service.counters().chunksIn, 2, 'two chunks cover the range')
  t.equal(b.service.counters().bytesIn, 2 * 16 * KiB)
  t.equal((await b.store.missing(e.id)).length, 62)
})

t.test('failures: unknown file, chunk nobody has, abort', async (t) => {
  const dir = t.testdir()
  const opts = { chunkSize: 16 * KiB }
  const a = await startPeer(t, join(dir, 'a'), opts)
  const b = await startPeer(t, join(dir, 'b'), opts)
  await t.rejects(b.service.fetch('0'.repeat(64), [a.holder]), { code: ErrorCode.DATA_UNAVAILABLE, retryable: true })
  await t.rejects(b.service.fetch('0'.repeat(64), []), { code: ErrorCode.DATA_UNAVAILABLE })
  const e = await a.store.importBytes(randomBytes(4 * 16 * KiB))
  const lost = (await a.store.getManifest(e.id))!.chunks[2]!
  await corruptChunk(a.dir, lost)
  await t.rejects(b.service.fetch(e.id, [a.holder]), { code: ErrorCode.DATA_UNAVAILABLE })
  t.same(await b.store.missing(e.id), [lost], 'the other chunks were kept')
  const f = await a.store.importBytes(randomBytes(4 * 16 * KiB))
  await t.rejects(b.service.fetch(f.id, [a.holder], { signal: AbortSignal.abort() }), { code: ErrorCode.ABORTED })
  // a holder that is not listening for the protocol counts as failed; the next one serves
  await b.service.stop()
  const c = await startPeer(t, join(dir, 'c'), opts)
  await b.store.importBytes(randomBytes(10))
  const g = await a.store.importBytes(randomBytes(3 * 16 * KiB))
  const s = await c.service.fetch(g.id, [b.holder, a.holder])
  t.equal(s.perHolder[a.holder.peerId], 3 * 16 * KiB)
})
