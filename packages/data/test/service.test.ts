import t from 'tap'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { corruptChunk, sparseFile, startPeer } from './fixtures.js'

const KiB = 1024
const MiB = 1024 * KiB

t.test('round trip over libp2p: random, odd-sized and empty files', async (t) => {
  const dir = t.testdir()
  const a = await startPeer(t, join(dir, 'a'), { chunkSize: 64 * KiB })
  const b = await startPeer(t, join(dir, 'b'), { chunkSize: 64 * KiB })
  for (const size of [4 * MiB, 3 * MiB + 12345, 0]) {
    const src = join(dir, `src${size}`)
    await writeFile(src, randomBytes(size))
    const e = await a.store.importFile(src)
    let progress = 0
    const stats = await b.service.fetch(e.id, [a.holder], { onProgress: (done) => { progress = done } })
    t.equal(stats.bytes, size, `${size}: every byte came over the wire once`)
    t.equal(progress, size)
    t.same(Object.keys(stats.perHolder), size === 0 ? [] : [a.holder.peerId])
    const out = join(dir, `out${size}`)
    await b.store.materialize(e.id, out)
    t.ok((await readFile(out)).equals(await readFile(src)), `${size} bytes equal`)
    const again = await b.service.fetch(e.id, [a.holder])
    t.equal(again.bytes, 0, 'a second fetch moves nothing')
    t.equal(again.fromCache, Math.ceil(size / (64 * KiB)))
  }
  t.ok(a.service.counters().requestsServed > 0)
})

t.test('a holder serving two fetchers at once: pooled send buffers, or new ones per chunk, never mix chunks up', async (t) => {
  const dir = t.testdir()
  const src = join(dir, 'src')
  await writeFile(src, randomBytes(12 * MiB + 777))
  // encryptsOnSend: chunks are read into reused buffers, each given back only when send() took
  // it at once; without it, each chunk gets a new buffer. Every received chunk is hashed, so a
  // buffer reused while libp2p still held it would show as corrupt chunks and a failed fetch.
  for (const encryptsOnSend of [true, false]) {
    const a = await startPeer(t, join(dir, `a${String(encryptsOnSend)}`), { chunkSize: 256 * KiB, encryptsOnSend })
    const e = await a.store.importFile(src)
    const peers = [await startPeer(t, join(dir, `b${String(encryptsOnSend)}`), { chunkSize: 256 * KiB }), await startPeer(t, join(dir, `c${String(encryptsOnSend)}`), { chunkSize: 256 * KiB })]
    await Promise.all(peers.map(async (p) => await p.service.fetch(e.id, [a.holder])))
    for (const [i, p] of peers.entries()) {
      t.equal(p.service.counters().corruptReceived, 0, `encryptsOnSend ${String(encryptsOnSend)}, peer ${i}: no corrupt chunk`)
      const out = join(dir, `out${String(encryptsOnSend)}${i}`)
      await p.store.materialize(e.id, out)
      t.ok((await readFile(out)).equals(await readFile(src)), 'byte for byte')
    }
    t.equal(a.service.counters().chunksOut, 2 * 49, 'every chunk sent to each')
  }
})

t.test('dedup and zero chunks: only distinct non-zero chunks cross the wire', async (t) => {
  const dir = t.testdir()
  const a = await startPeer(t, join(dir, 'a'))
  const b = await startPeer(t, join(dir, 'b'))
  // 64 MiB, mostly holes
  const src = join(dir, 'sparse')
  await sparseFile(src, 64 * MiB, [[3, randomBytes(1000)], [20 * MiB + 5, randomBytes(10)], [64 * MiB - 1, Uint8Array.of(1)]])
  const e = await a.store.importFile(src)
  const m = (await a.store.getManifest(e.id))!
  const nonZero = m.chunks.filter((c) => c !== '').length
  t.equal(nonZero, 3)
  const stats = await b.service.fetch(e.id, [a.holder])
  t.equal(b.service.counters().bytesIn, 3 * MiB, 'bytesIn is the non-zero chunk bytes')
  t.equal(a.service.counters().bytesOut, 3 * MiB)
  t.equal(stats.chunks, 3)
  const out = join(dir, 'out')
  await b.store.materialize(e.id, out)
  t.ok((await readFile(out)).equals(await readFile(src)))

  // eight identical chunks: one travels
  const same = await a.store.importBytes(Buffer.alloc(8 * MiB, 9))
  const before = b.service.counters().bytesIn
  await b.service.fetch(same.id, [a.holder])
  t.equal(b.service.counters().bytesIn - before, 1 * MiB)
})

t.test('peers of one job: each takes its slice from the origin and the rest from the other peer, never from itself', async (t) => {
  const dir = t.testdir()
  const opts = { chunkSize: 16 * KiB, self: true }
  const a = await startPeer(t, join(dir, 'a'), opts)
  const p1 = await startPeer(t, join(dir, 'p1'), opts)
  const p2 = await startPeer(t, join(dir, 'p2'), opts)
  const bytes = randomBytes(4 * MiB) // 256 chunks: 4 requests of 64
  const e = await a.store.importBytes(bytes)
  // the holders every peer of a job is given: the super-peer, then the job's peers
  const holders = [a.holder, p1.holder, p2.holder]
  // one after the other, so what each peer holds when the other asks is known
  const first = await p1.service.fetch(e.id, holders)
  t.same(first.perHolder, { [a.holder.peerId]: bytes.byteLength }, 'P2 had nothing yet: the origin sent it all')
  const served = p2.service.counters().requestsServed
  const second = await p2.service.fetch(e.id, holders)
  t.same(second.perHolder, { [a.holder.peerId]: bytes.byteLength / 2, [p1.holder.peerId]: bytes.byteLength / 2 }, 'P2 took its half from the origin, the other half from P1')
  t.equal(p2.service.counters().requestsServed, served, 'P2 never asked itself')
  t.equal(a.service.counters().bytesOut, 1.5 * bytes.byteLength)
  for (const p of [p1, p2]) t.ok(Buffer.from(await p.store.readRange(e.id, 0, bytes.byteLength)).equals(bytes))
})

t.test('a corrupt chunk on holder A is discarded there and fetched from B', async (t) => {
  const dir = t.testdir()
  const opts = { chunkSize: 16 * KiB }
  const a = await startPeer(t, join(dir, 'a'), opts)
  const b = await startPeer(t, join(dir, 'b'), opts)
  const c = await startPeer(t, join(dir, 'c'), opts)
  const bytes = randomBytes(16 * 16 * KiB) // 16 chunks: one request, sent to the first holder
  const e = await a.store.importBytes(bytes)
  await b.store.importBytes(bytes)
  const bad = (await a.store.getManifest(e.id))!.chunks[5]!
  await corruptChunk(a.dir, bad)
  const stats = await c.service.fetch(e.id, [a.holder, b.holder])
  t.equal(a.store.stats().corrupt, 1, 'A found it corrupt when it read it to send')
  t.equal(await a.store.getChunk(bad), undefined, 'and discarded it')
  t.equal(stats.perHolder[b.holder.peerId], 16 * KiB, 'B sent that one chunk')
  t.equal(stats.perHolder[a.holder.peerId], 15 * 16 * KiB)
  t.ok(Buffer.from(await c.store.readRange(e.id, 0, bytes.byteLength)).equals(bytes))
})

t.test('a holder that dies mid-fetch: the other holder completes it', async (t) => {
  const dir = t.testdir()
  const opts = { chunkSize: 16 * KiB, requestTimeoutMs: 5000 }
  const a = await startPeer(t, join(dir, 'a'), opts)
  const b = await startPeer(t, join(dir, 'b'), opts)
  const c = await startPeer(t, join(dir, 'c'), { ...opts, inflight: 2 })
  const bytes = randomBytes(2 * MiB) // 128 chunks: 2 requests in flight, one to each holder
  const e = await a.store.importBytes(bytes)
  await b.store.importBytes(bytes)
  let stopping: Promise<void> | undefined
  const stats = await c.service.fetch(e.id, [a.holder, b.holder], {
    onProgress: () => { stopping ??= Promise.resolve(a.node.stop()) }
  })
  await stopping
  t.ok((stats.perHolder[a.holder.peerId] ?? 0) < bytes.byteLength / 2, `A sent ${stats.perHolder[a.holder.peerId] ?? 0} bytes before it died`)
  t.ok((stats.perHolder[b.holder.peerId] ?? 0) > bytes.byteLength / 2, 'B sent the rest')
  t.ok(Buffer.from(await c.store.readRange(e.id, 0, bytes.byteLength)).equals(bytes))
})
