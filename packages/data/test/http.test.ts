import t, { type Test } from 'tap'
import { createServer, request, type Server } from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ErrorCode } from '@mvm/core'
import { createDataHttp, createDataStore, downloadFile, encodeManifest, uploadFile, type DataStore } from '@mvm/data'
import { sparseFile } from './fixtures.js'

const KiB = 1024
const CHUNK = 64 * KiB

/** A real node:http server on 127.0.0.1 with the data routes (others answer 404). */
async function serve (t: Test, store: DataStore): Promise<string> {
  const http = createDataHttp({ store })
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    void http.handle(req, res, url).then((mine) => { if (!mine) res.writeHead(404).end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise((resolve) => server.close(resolve)) })
  const addr = server.address()
  if (addr === null || typeof addr === 'string') throw new Error('no address')
  return `http://127.0.0.1:${addr.port}`
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

t.test('upload/download round trip; dedup sends nothing the second time; zero chunks never sent', async (t) => {
  const dir = t.testdir()
  const store = await createDataStore({ dir: join(dir, 'store'), maxBytes: 64 * 2 ** 20, chunkSize: CHUNK })
  t.teardown(() => store.close())
  const base = await serve(t, store)

  for (const size of [2 * 2 ** 20 + 777, 0]) {
    const src = join(dir, `src${size}`)
    await writeFile(src, randomBytes(size))
    const up = await uploadFile(base, src, { name: `f${size}`, chunkSize: CHUNK })
    t.equal(up.size, size)
    t.equal(up.sentBytes, size, 'the first upload sends every byte')
    t.equal(store.get(up.id)?.name, `f${size}`)
    const again = await uploadFile(base, src, { chunkSize: CHUNK })
    t.equal(again.id, up.id)
    t.equal(again.sentBytes, 0, 'the second upload sends 0 bytes')
    const out = join(dir, `out${size}`)
    const down = await downloadFile(base, up.id, out)
    t.equal(down.size, size)
    t.ok((await readFile(out)).equals(await readFile(src)), `${size} bytes equal`)
  }

  const sparse = join(dir, 'sparse')
  await sparseFile(sparse, 8 * 2 ** 20, [[100, randomBytes(10)], [5 * 2 ** 20, randomBytes(10)]])
  const up = await uploadFile(base, sparse, { chunkSize: CHUNK })
  t.equal(up.sentBytes, 2 * CHUNK, 'only the two non-zero chunks are sent')
  const out = join(dir, 'sparse.out')
  await downloadFile(base, up.id, out)
  t.ok((await readFile(out)).equals(await readFile(sparse)))
  t.ok((await stat(out)).blocks * 512 < 2 * 2 ** 20, 'the download is sparse too')

  // Range and listing
  const r = await fetch(`${base}/data/files/${up.id}`, { headers: { range: `bytes=${5 * 2 ** 20}-${5 * 2 ** 20 + 9}` } })
  t.equal(r.status, 206)
  t.ok(Buffer.from(await r.arrayBuffer()).equals((await readFile(sparse)).subarray(5 * 2 ** 20, 5 * 2 ** 20 + 10)))
  t.equal((await fetch(`${base}/data/files/${up.id}`, { headers: { range: 'bytes=99999999-' } })).status, 416)
  const list = await (await fetch(`${base}/data/files`)).json() as Array<{ id: string }>
  t.ok(list.some((e) => e.id === up.id))
  t.equal((await fetch(`${base}/data/files/${up.id}`, { method: 'DELETE' })).status, 204)
  const gone = await fetch(`${base}/data/files/${up.id}`)
  t.equal(gone.status, 404)
  t.match(await gone.json(), { code: ErrorCode.NOT_FOUND })
  await t.rejects(downloadFile(base, up.id, join(dir, 'nope')), { code: ErrorCode.NOT_FOUND })
})

t.test('bad input: wrong hash, oversized body, manifest naming absent chunks, junk', async (t) => {
  const dir = t.testdir()
  const store = await createDataStore({ dir, maxBytes: 2 ** 20, chunkSize: 4 * KiB })
  t.teardown(() => store.close())
  const base = await serve(t, store)
  const bytes = randomBytes(4 * KiB)

  const bad = await fetch(`${base}/data/chunks/${sha(randomBytes(8))}`, { method: 'PUT', body: bytes })
  t.equal(bad.status, 400)
  t.match(await bad.json(), { code: ErrorCode.DATA_CORRUPT })

  const big = randomBytes(4 * KiB + 1)
  const over = await fetch(`${base}/data/chunks/${sha(big)}`, { method: 'PUT', body: big })
  t.equal(over.status, 413, 'a body over the chunk size is refused')
  t.match(await over.json(), { code: ErrorCode.BAD_REQUEST })

  // a body with no Content-Length that keeps growing is cut off too
  const status = await new Promise<number | string>((resolve) => {
    const req = request(`${base}/data/chunks/${sha(big)}`, { method: 'PUT' }, (res) => { res.resume(); resolve(res.statusCode ?? 0) })
    req.on('error', (e) => { resolve(e.message) })
    for (let i = 0; i < 8; i++) req.write(randomBytes(KiB))
    req.end()
  })
  t.ok(status === 413 || typeof status === 'string', `a chunked oversized body is refused (${status})`)

  const ok = await fetch(`${base}/data/chunks/${sha(bytes)}`, { method: 'PUT', body: bytes })
  t.equal(ok.status, 204)

  const absent = sha(randomBytes(16))
  const manifest = encodeManifest({ v: 1, size: 8 * KiB, chunk: 4 * KiB, chunks: [sha(bytes), absent] })
  const conflict = await fetch(`${base}/data/files?name=x`, { method: 'PUT', body: manifest })
  t.equal(conflict.status, 409)
  t.match(await conflict.json(), { code: ErrorCode.DATA_MISSING, missing: [absent] })
  t.same(store.list(), [], 'the manifest was not stored')

  const junk = await fetch(`${base}/data/files`, { method: 'PUT', body: 'not json' })
  t.equal(junk.status, 400)
  t.match(await junk.json(), { code: ErrorCode.DATA_CORRUPT })
  const has = await fetch(`${base}/data/has`, { method: 'POST', body: '{"hashes": [1]}' })
  t.equal(has.status, 400)
  const has2 = await fetch(`${base}/data/has`, { method: 'POST', body: JSON.stringify({ hashes: [sha(bytes), absent] }) })
  t.same(await has2.json(), { missing: [absent] })
  t.equal((await fetch(`${base}/data/chunks/${sha(bytes)}`)).status, 405)
  t.equal((await fetch(`${base}/data/nothing`)).status, 404)
  t.equal((await fetch(`${base}/elsewhere`)).status, 404)
})
