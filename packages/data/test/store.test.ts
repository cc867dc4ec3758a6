import t from 'tap'
import { randomBytes } from 'node:crypto'
import { open, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ErrorCode } from '@mvm/core'
import { createDataStore, decodeManifest, encodeManifest, manifestId, isContentId, chunkFile } from '@mvm/data'
import { corruptChunk, sparseFile } from './fixtures.js'

const KiB = 1024

t.test('manifest: canonical JSON, id, validation', async (t) => {
  const m = { v: 1 as const, size: 5, chunk: 4, chunks: ['a'.repeat(64), ''] }
  const bytes = encodeManifest(m)
  t.equal(Buffer.from(bytes).toString(), `{"v":1,"size":5,"chunk":4,"chunks":["${'a'.repeat(64)}",""]}`)
  t.same(decodeManifest(bytes), m)
  t.ok(isContentId(manifestId(bytes)))
  t.notOk(isContentId('xyz'))
  for (const bad of ['{"v":1, "size":5,"chunk":4,"chunks":["",""]}', '{"v":2,"size":0,"chunk":4,"chunks":[]}', '{"v":1,"size":5,"chunk":4,"chunks":[""]}', '{"v":1,"size":1,"chunk":4,"chunks":["ZZ"]}', 'nope', '[]']) {
    t.throws(() => decodeManifest(Buffer.from(bad)), { code: ErrorCode.DATA_CORRUPT }, bad)
  }
})

t.test('import, materialize byte for byte, dedup, sparse holes, readRange', async (t) => {
  const dir = t.testdir()
  const store = await createDataStore({ dir: join(dir, 'data'), maxBytes: 64 * 2 ** 20, chunkSize: 64 * KiB })
  t.teardown(() => store.close())

  for (const size of [3 * 2 ** 20 + 12345, 0, 64 * KiB]) {
    const src = join(dir, `f${size}`)
    await writeFile(src, randomBytes(size))
    const e = await store.importFile(src, { name: `f${size}` })
    t.equal(e.size, size)
    t.same(await store.missing(e.id), [])
    const out = join(dir, `out${size}`)
    await store.materialize(e.id, out)
    t.ok((await readFile(out)).equals(await readFile(src)), `${size} bytes round trip`)
  }

  // a file of identical chunks stores one chunk
  const before = store.stats().chunks
  const same = Buffer.alloc(8 * 64 * KiB, 7)
  const e = await store.importBytes(same, { name: 'sevens' })
  t.equal(store.stats().chunks, before + 1, 'eight identical chunks stored once')
  t.equal(e.storedBytes, 64 * KiB)
  const again = await store.importBytes(same)
  t.equal(again.id, e.id, 'same content, same id')
  t.equal(store.get(e.id)?.name, 'sevens', 'a nameless import keeps the name')

  // sparse: zero chunks are never stored and come back as holes
  const sparse = join(dir, 'sparse')
  await sparseFile(sparse, 16 * 2 ** 20, [[5 * 2 ** 20 + 3, randomBytes(100)], [16 * 2 ** 20 - 10, randomBytes(10)]])
  const s0 = store.stats().bytes
  const se = await store.importFile(sparse)
  t.equal(store.stats().bytes - s0, 2 * 64 * KiB, 'only the two non-zero chunks are stored')
  const m = (await store.getManifest(se.id))!
  t.equal(m.chunks.filter((c) => c !== '').length, 2)
  const sout = join(dir, 'sparse.out')
  await store.materialize(se.id, sout)
  t.ok((await readFile(sout)).equals(await readFile(sparse)))
  const st = await stat(sout)
  t.ok(st.blocks * 512 < 2 * 2 ** 20, `materialized sparse (${st.blocks * 512} bytes allocated of ${st.size})`)

  const r = await store.readRange(se.id, 5 * 2 ** 20, 200)
  t.ok(Buffer.from(r).equals((await readFile(sparse)).subarray(5 * 2 ** 20, 5 * 2 ** 20 + 200)), 'readRange across zeros and data')
  t.equal((await store.readRange(se.id, 16 * 2 ** 20 - 4, 100)).byteLength, 4, 'readRange clamps at the end')
  t.ok((store.get(se.id)?.hits ?? 0) >= 2, 'reads count hits')

  // chunkFile streams the same names
  const names: string[] = []
  for await (const c of chunkFile(sparse, { chunkSize: 64 * KiB })) names.push(c.hash)
  t.same(names, m.chunks)
})

t.test('putChunk verifies; getChunk detects corruption on every read', async (t) => {
  const dir = t.testdir()
  const store = await createDataStore({ dir, maxBytes: 2 ** 20, chunkSize: 4 * KiB })
  t.teardown(() => store.close())
  const e = await store.importBytes(randomBytes(8 * KiB))
  const [h0, h1] = (await store.getManifest(e.id))!.chunks as [string, string]
  await t.rejects(store.putChunk(h0, randomBytes(4 * KiB)), { code: ErrorCode.DATA_CORRUPT })
  await t.rejects(store.putChunk('nothex', randomBytes(4)), { code: ErrorCode.DATA_CORRUPT })
  t.ok(await store.getChunk(h0))
  await corruptChunk(dir, h1)
  t.equal(await store.getChunk(h1), undefined, 'a corrupt chunk reads as absent')
  t.equal(store.stats().corrupt, 1)
  t.same(await store.missing(e.id), [h1], 'and is gone, to be fetched again')
  t.same(await store.hasChunks([h0, h1, '']), [true, false, true])
  await t.rejects(store.materialize(e.id, join(dir, 'x')), { code: ErrorCode.DATA_MISSING })
  await t.rejects(store.readRange(e.id, 4 * KiB, 10), { code: ErrorCode.DATA_MISSING })
})

t.test('bounded LRU with pins; E_DATA_FULL when everything is pinned; gc', async (t) => {
  const dir = t.testdir()
  const chunk = 4 * KiB
  const maxBytes = 10 * chunk
  const store = await createDataStore({ dir, maxBytes, chunkSize: chunk })
  t.teardown(() => store.close())
  const a = await store.importBytes(randomBytes(4 * chunk), { name: 'a', pin: 'job:1' })
  const b = await store.importBytes(randomBytes(4 * chunk), { name: 'b' })
  let maxSeen = 0
  const ids: string[] = []
  for (let i = 0; i < 6; i++) {
    const e = await store.importBytes(randomBytes(2 * chunk), { name: `c${i}` })
    ids.push(e.id)
    maxSeen = Math.max(maxSeen, store.stats().bytes)
  }
  t.ok(maxSeen <= maxBytes, `never over the bound (${maxSeen} <= ${maxBytes})`)
  t.ok(store.get(a.id), 'the pinned file survives')
  t.same(await store.missing(a.id), [])
  t.equal(store.get(b.id), undefined, 'the least recently used file went first')
  t.ok(store.stats().evictions >= 1)
  t.ok(store.get(ids[5]!), 'the newest file is kept')

  // pin everything that is left, then a new chunk cannot fit
  for (const e of store.list()) await store.pin(e.id, 'job:2')
  await t.rejects(store.importBytes(randomBytes(4 * chunk)), { code: ErrorCode.DATA_FULL, retryable: false })
  t.ok(store.stats().bytes <= maxBytes)

  // remove + gc frees the chunks
  await store.unpin(a.id, 'job:1')
  t.same(store.get(a.id)?.pins, ['job:2'])
  const before = store.stats().bytes
  await store.remove(a.id)
  const g = await store.gc()
  t.ok(g.chunks >= 4, `gc removed ${g.chunks} chunks`)
  t.ok(store.stats().bytes <= before - 4 * chunk)
})

t.test('reopen keeps the index', async (t) => {
  const dir = t.testdir()
  const s1 = await createDataStore({ dir, maxBytes: 2 ** 20, chunkSize: 4 * KiB })
  const e = await s1.importBytes(randomBytes(10 * KiB), { pin: 'x' })
  await s1.close()
  const s2 = await createDataStore({ dir, maxBytes: 2 ** 20, chunkSize: 4 * KiB })
  t.teardown(() => s2.close())
  t.same(s2.get(e.id)?.pins, ['x'])
  t.equal(s2.stats().bytes, 10 * KiB)
  const out = join(dir, 'o')
  await s2.materialize(e.id, out)
  t.equal((await readFile(out)).byteLength, 10 * KiB)
  // a stray chunk file (crash between rename and index) is swept by gc
  const fh = await open(join(dir, 'chunks', 'ab', 'ab' + '0'.repeat(62)), 'w').catch(async () => {
    const { mkdir } = await import('node:fs/promises')
    await mkdir(join(dir, 'chunks', 'ab'), { recursive: true })
    return await open(join(dir, 'chunks', 'ab', 'ab' + '0'.repeat(62)), 'w')
  })
  await fh.write(Buffer.from('stray'))
  await fh.close()
  t.same(await s2.gc(), { chunks: 1, bytes: 5 })
})

t.test('getChunkToSend: unchanged files are sent as stored; a file written since is hashed and discarded when corrupt', async (t) => {
  const dir = t.testdir()
  const store = await createDataStore({ dir, maxBytes: 2 ** 20, chunkSize: 4 * KiB })
  t.teardown(() => store.close())
  const bytes = randomBytes(8 * KiB)
  const e = await store.importBytes(bytes)
  const [h0, h1] = (await store.getManifest(e.id))!.chunks as [string, string]
  t.same(Buffer.from((await store.getChunkToSend(h0))!), bytes.subarray(0, 4 * KiB))
  // an overwrite that puts the mtime back is still seen (ctime moves)
  const p = join(dir, 'chunks', h1.slice(0, 2), h1)
  const before = await stat(p)
  await corruptChunk(dir, h1)
  const { utimes } = await import('node:fs/promises')
  await utimes(p, before.atime, before.mtime)
  t.equal(await store.getChunkToSend(h1), undefined, 'the corrupt chunk is not sent')
  t.equal(store.stats().corrupt, 1, 'it was hashed and found corrupt')
  t.same(await store.missing(e.id), [h1], 'and is gone, to be fetched again')
  t.equal(await store.getChunkToSend('f'.repeat(64)), undefined, 'an absent chunk')
})

t.test('a chunk frame written without copying is the protobuf encoding of the same Response', async (t) => {
  const { encodeChunkResponse, encodeResponse, decodeResponse } = await import('../src/protocol.js')
  for (const n of [1, 127, 128, 16_383, 16_384, 1 << 20]) {
    const bytes = randomBytes(n)
    const hash = 'ab'.repeat(32)
    const fast = encodeChunkResponse(hash, bytes).subarray()
    t.same(Buffer.from(fast), Buffer.from(encodeResponse({ type: 'chunk', hash, bytes })), `${n} bytes`)
    const r = decodeResponse(fast)
    t.ok(r.type === 'chunk' && r.hash === hash && Buffer.from(r.bytes).equals(bytes))
  }
})

t.test('putChunk takes a chunk in the parts it arrived in', async (t) => {
  const dir = t.testdir()
  const store = await createDataStore({ dir, maxBytes: 2 ** 20, chunkSize: 4 * KiB })
  t.teardown(() => store.close())
  const bytes = randomBytes(4 * KiB)
  const { createHash } = await import('node:crypto')
  const hash = createHash('sha256').update(bytes).digest('hex')
  await t.rejects(store.putChunk(hash, [bytes.subarray(0, 100), randomBytes(4 * KiB - 100)]), { code: ErrorCode.DATA_CORRUPT })
  await store.putChunk(hash, [bytes.subarray(0, 100), bytes.subarray(100, 3000), bytes.subarray(3000)])
  t.same(Buffer.from((await store.getChunk(hash))!), bytes, 'stored whole')
  await store.putChunk('01d448afd928065458cf670b60f5a594d735af0172c8d67f22a81680132681ca', [new Uint8Array(10), new Uint8Array(0)])
  t.equal(store.stats().zeroChunks, 1, 'zero parts are a zero chunk, not stored')
})
