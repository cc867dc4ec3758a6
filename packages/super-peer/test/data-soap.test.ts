// The Broker data operations (PutData, GetData, ListData, RemoveData) over real SOAP on 127.0.0.1
// (the typed client, and a plain node-soap client from ?wsdl) against a real @mvm/data store.
import t from 'tap'
import soap from 'soap'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { createDataStore } from '@mvm/data'
import { DATA_CALL_MAX_BYTES, DATA_REQUEST_MAX_BYTES, createBrokerClient, startSoapServer } from '@mvm/soap'
import { brokerDataHandlers, USER_PIN } from '@mvm/super-peer'
import { jobResult } from '@mvm/super-peer/internal'

const MiB = 1024 * 1024
const dir = t.testdir()
// small chunks: a few hundred KiB already span many of them
const store = await createDataStore({ dir: join(dir, 'data'), maxBytes: 64 * MiB, chunkSize: 64 * 1024 })
const OUTPUTS_JOB = 'j-outputs'
const server = await startSoapServer({
  // PutData carries up to 16 MiB in base64: the envelope bound must let that reach the handler
  maxRequestBytes: DATA_REQUEST_MAX_BYTES,
  services: {
    Broker: {
      ...brokerDataHandlers(store),
      // a finished job whose ranks left outputs, as the broker records them
      GetJobResult: async ({ jobId }) => jobResult({
        jobId,
        state: 'succeeded',
        reason: null,
        value: 1,
        ranks: [
          { rank: 1, exitCode: 0, outputs: [{ name: 'out/part-1.csv', id: 'b'.repeat(64), size: 5_000_000_000 }] },
          { rank: 0, exitCode: 0, outputs: [{ name: 'out/part-0.csv', id: 'a'.repeat(64), size: 3 }] },
          { rank: 2, exitCode: 0 }
        ]
      })
    }
  }
})
const client = createBrokerClient(server.baseUrl)
t.teardown(async () => { await server.close(); await store.close() })

type Fault = { code?: string, message?: string }
const fault = async (p: Promise<unknown>): Promise<Fault | undefined> => await p.then(() => undefined, (e: unknown) => e as Fault)

t.test('PutData then GetData: the same bytes, byte for byte, pinned for the user', async (t) => {
  // zero chunks inside (never stored) and a short last chunk
  const bytes = Buffer.concat([randomBytes(200_000), Buffer.alloc(3 * 64 * 1024), randomBytes(12_345)])
  const put = await client.PutData({ name: 'inputs/a.bin', content: bytes })
  t.match(put.id, /^[0-9a-f]{64}$/)
  t.equal(put.size, bytes.byteLength)
  const got = await client.GetData({ id: put.id })
  t.equal(got.id, put.id)
  t.equal(got.size, bytes.byteLength)
  t.equal(got.offset, 0)
  t.ok(Buffer.from(got.content).equals(bytes), 'round trip')
  t.same(store.get(put.id)?.pins, [USER_PIN])
  const again = await client.PutData({ name: 'copy.bin', content: bytes })
  t.equal(again.id, put.id, 'the same content has the same id')
  const empty = await client.PutData({ name: 'empty', content: new Uint8Array() })
  t.equal(empty.size, 0)
  t.equal((await client.GetData({ id: empty.id })).content.byteLength, 0, 'an empty file reads as empty')
})

t.test('GetData ranges: across chunk borders, into zero chunks, up to the end', async (t) => {
  const bytes = Buffer.concat([randomBytes(100_000), Buffer.alloc(70_000), randomBytes(30_000)])
  const { id } = await client.PutData({ name: 'ranges.bin', content: bytes })
  for (const [offset, length] of [[0, 1], [65_530, 20], [99_990, 80_000], [150_000, 50_000], [199_999, 1], [200_000, 0], [123, 0]] as const) {
    const r = await client.GetData({ id, offset, length })
    t.equal(r.offset, offset)
    t.equal(r.size, bytes.byteLength)
    t.ok(Buffer.from(r.content).equals(bytes.subarray(offset, offset + length)), `bytes ${offset}..${offset + length}`)
  }
  const tail = await client.GetData({ id, offset: 190_000 })
  t.ok(Buffer.from(tail.content).equals(bytes.subarray(190_000)), 'no length: the rest of the file')

  const past = await fault(client.GetData({ id, offset: 199_000, length: 2000 }))
  t.equal(past?.code, 'E_BAD_REQUEST')
  t.match(past?.message, /^GetData: bytes 199000 to 201000 are past the end of file [0-9a-f]{64} \(200000 bytes\)/)
  const beyond = await fault(client.GetData({ id, offset: 200_001 }))
  t.equal(beyond?.code, 'E_BAD_REQUEST')
  t.match(beyond?.message, /^GetData: offset 200001 is past the end/)
  const negative = await fault(client.GetData({ id, offset: -1 }))
  t.match(negative, { code: 'E_BAD_REQUEST', message: /^GetData: offset must be a non-negative integer/ })
  const tooLong = await fault(client.GetData({ id, length: DATA_CALL_MAX_BYTES + 1 }))
  t.match(tooLong, { code: 'E_BAD_REQUEST', message: /^GetData: length 16777217 is over 16777216 bytes per call/ })
})

t.test('ListData: size, stored bytes, hits and pins of each file; RemoveData drops one', async (t) => {
  const bytes = randomBytes(150_000)
  const { id } = await client.PutData({ name: 'listed.bin', content: bytes })
  const hits0 = store.get(id)!.hits
  await client.GetData({ id, offset: 0, length: 10 })
  await client.GetData({ id, offset: 10, length: 10 })
  const list = await client.ListData()
  const e = list.files.find((f) => f.id === id)
  t.ok(e !== undefined, 'listed')
  t.match(e, { id, name: 'listed.bin', size: 150_000, storedBytes: 150_000, pins: [USER_PIN] })
  t.equal(e!.hits, hits0 + 2, 'each GetData is a hit')
  t.ok(Date.parse(e!.createdAt) > 0 && Date.parse(e!.lastUsedAt) >= Date.parse(e!.createdAt), 'times as xs:dateTime')
  t.equal(list.maxBytes, 64 * MiB)
  t.equal(list.storedBytes, store.stats().bytes)
  t.ok(list.storedBytes >= 150_000)

  t.same(await client.RemoveData({ id }), { removed: true })
  t.equal(store.get(id), undefined, 'gone from the store')
  t.notOk((await client.ListData()).files.some((f) => f.id === id), 'and from ListData')
  t.same(await client.RemoveData({ id }), { removed: false }, 'removing it again: nothing to remove')
  t.equal((await fault(client.GetData({ id })))?.code, 'E_NOT_FOUND', 'a removed file is not found')
})

t.test('oversized and malformed requests: clear faults, the server keeps serving', async (t) => {
  const big = await fault(client.PutData({ name: 'big.bin', content: new Uint8Array(DATA_CALL_MAX_BYTES + 1) }))
  t.match(big, { code: 'E_BAD_REQUEST', message: /^PutData: content is 16777217 bytes, over 16777216 bytes per call \(larger files go over HTTP/ })
  // the largest a call may carry is accepted (all zeros: nothing stored but the manifest)
  const max = await client.PutData({ name: 'max.bin', content: new Uint8Array(DATA_CALL_MAX_BYTES) })
  t.equal(max.size, DATA_CALL_MAX_BYTES)
  const whole = await client.GetData({ id: max.id })
  t.equal(whole.content.byteLength, DATA_CALL_MAX_BYTES, '16 MiB in one GetData')
  // a larger file (stored over HTTP, say) is read in ranges
  const over = await store.importBytes(new Uint8Array(DATA_CALL_MAX_BYTES + 10), { name: 'over.bin' })
  t.match(await fault(client.GetData({ id: over.id })), { code: 'E_BAD_REQUEST', message: new RegExp(`^GetData: the rest of file ${over.id} from offset 0 is 16777226 bytes, over 16777216 bytes per call`) })
  t.equal((await client.GetData({ id: over.id, offset: 10, length: DATA_CALL_MAX_BYTES })).content.byteLength, DATA_CALL_MAX_BYTES, 'a range of it')

  t.match(await fault(client.PutData({ name: '', content: new Uint8Array(1) })), { code: 'E_BAD_REQUEST', message: 'PutData: name is empty' })
  t.match(await fault(client.PutData({ name: 'a\u0001b', content: new Uint8Array(1) })), { code: 'E_BAD_REQUEST', message: /control character/ })
  t.match(await fault(client.PutData({ name: 'x'.repeat(513), content: new Uint8Array(1) })), { code: 'E_BAD_REQUEST', message: /over 512/ })

  const unknown = await fault(client.GetData({ id: 'c'.repeat(64) }))
  t.match(unknown, { code: 'E_NOT_FOUND', message: `GetData: no file ${'c'.repeat(64)} in this broker's store` })
  t.match(await fault(client.GetData({ id: 'nope' })), { code: 'E_BAD_REQUEST', message: 'GetData: "nope" is not a content id (64 lowercase hex digits)' })
  t.match(await fault(client.RemoveData({ id: '../etc' })), { code: 'E_BAD_REQUEST', message: /^RemoveData: "\.\.\/etc" is not a content id/ })
  t.ok((await client.ListData()).files.length > 0, 'still serving')
})

t.test('a store full of pinned files answers E_DATA_FULL, named after the call', async (t) => {
  const small = await createDataStore({ dir: join(t.testdir(), 'data'), maxBytes: 256 * 1024, chunkSize: 64 * 1024 })
  const s = await startSoapServer({ services: { Broker: brokerDataHandlers(small, { maxBytes: 1024 * 1024 }) } })
  t.teardown(async () => { await s.close(); await small.close() })
  const c = createBrokerClient(s.baseUrl)
  await c.PutData({ name: 'a', content: randomBytes(200 * 1024) })
  const full = await fault(c.PutData({ name: 'b', content: randomBytes(200 * 1024) }))
  t.match(full, { code: 'E_DATA_FULL', message: /^PutData: the data store is full/ })
  const big = await fault(c.PutData({ name: 'c', content: new Uint8Array(1024 * 1024 + 1) }))
  t.match(big, { code: 'E_BAD_REQUEST', message: /^PutData: content is 1048577 bytes, over 1048576 bytes per call/ })
  t.throws(() => brokerDataHandlers(small, { maxBytes: DATA_CALL_MAX_BYTES + 1 }), { code: 'E_CONFIG' })
})

t.test('GetJobResult outputs: each rank\'s files with its rank, sizes past 2 GiB intact', async (t) => {
  const r = await client.GetJobResult({ jobId: OUTPUTS_JOB })
  t.same(r.outputs, [
    { name: 'out/part-0.csv', id: 'a'.repeat(64), size: 3, rank: 0 },
    { name: 'out/part-1.csv', id: 'b'.repeat(64), size: 5_000_000_000, rank: 1 }
  ])
  const none = jobResult({ jobId: 'j', state: 'succeeded', reason: null, value: null, ranks: [{ rank: 0, exitCode: 0 }] })
  t.notOk('outputs' in none, 'no outputs: the element is left out')
})

t.test('a plain node-soap client from ?wsdl: PutData, GetData with base64 content, ListData', async (t) => {
  const c = await soap.createClientAsync(`${server.urlOf('Broker')}?wsdl`)
  const bytes = randomBytes(1000)
  const [put] = await c.PutDataAsync({ name: 'wsdl.bin', content: bytes.toString('base64') })
  t.match(put, { id: /^[0-9a-f]{64}$/, size: '1000' })
  const [got] = await c.GetDataAsync({ id: put.id, offset: 10, length: 20 })
  t.ok(Buffer.from(got.content as string, 'base64').equals(bytes.subarray(10, 30)))
  const [list] = await c.ListDataAsync({})
  t.ok((Array.isArray(list.files) ? list.files : [list.files]).some((f: { id: string }) => f.id === put.id))
  const err = await c.GetDataAsync({ id: 'f'.repeat(64) }).then(() => undefined, (e: { root?: any }) => e.root?.Envelope?.Body?.Fault)
  t.equal(err?.detail?.MvmFault?.code, 'E_NOT_FOUND')
})
