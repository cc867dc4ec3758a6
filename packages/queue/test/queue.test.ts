import t from 'tap'
import { createQueue, createEncoder, CreditGate, CreditGranter, queueTypes } from '@mvm/queue'

t.test('fifo keeps order and put waits while full', async (t) => {
  const q = createQueue<number>('fifo', { capacity: 2 })
  await q.put(1)
  await q.put(2)
  t.equal(q.tryPut(3), false, 'full queue refuses tryPut')
  let third = false
  const p = q.put(3).then(() => { third = true })
  await new Promise((r) => setImmediate(r))
  t.equal(third, false, 'put waits while full')
  t.equal(await q.get(), 1)
  await p
  t.equal(third, true, 'put resumes after a get')
  t.same([await q.get(), await q.get()], [2, 3])
  // wrap-around of the ring many times
  for (let i = 0; i < 50; i++) { await q.put(i); t.equal(await q.get(), i) }
})

t.test('priority queue: highest first, ties in arrival order', async (t) => {
  const q = createQueue<string>('priority', { capacity: 10 })
  await q.put('low-a', { priority: 0 })
  await q.put('high', { priority: 5 })
  await q.put('low-b', { priority: 0 })
  await q.put('mid', { priority: 2 })
  const out: string[] = []
  for (let i = 0; i < 4; i++) out.push(await q.get())
  t.same(out, ['high', 'mid', 'low-a', 'low-b'])
})

t.test('close drains then rejects; abort rejects a waiting get', async (t) => {
  const q = createQueue<number>('fifo', { capacity: 4 })
  await q.put(7)
  q.close()
  t.equal(await q.get(), 7)
  await t.rejects(q.get(), { code: 'E_INVALID_STATE' })
  await t.rejects(q.put(1), { code: 'E_INVALID_STATE' })
  const q2 = createQueue<number>('fifo', { capacity: 1 })
  const ac = new AbortController()
  const g = q2.get({ signal: ac.signal })
  ac.abort()
  await t.rejects(g, { code: 'E_ABORTED' })
  await q2.put(3)
  t.equal(await q2.get(), 3, 'aborted waiter does not swallow the next item')
})

t.test('bad names and capacities are clear errors', async (t) => {
  t.throws(() => createQueue('lifo', { capacity: 1 }), { code: 'E_UNKNOWN_COMPONENT', message: /queue type "lifo".*fifo, priority/ })
  t.throws(() => createQueue('fifo', { capacity: 0 }), { code: 'E_BAD_REQUEST', message: /capacity/ })
  t.ok(queueTypes.has('fifo'))
  t.throws(() => createEncoder('xml'), { code: 'E_UNKNOWN_COMPONENT' })
})

t.test('encoders round-trip', async (t) => {
  const json = createEncoder('json')
  const v = { a: [1, 2.5, 'x', null, true], b: { c: 'd' } }
  t.same(json.decode(json.encode(v)), v)
  t.equal(json.decode(json.encode(undefined)), undefined)
  t.throws(() => json.decode(new Uint8Array([123])), { code: 'E_BAD_REQUEST' })
  const raw = createEncoder('raw')
  const bytes = new Uint8Array([1, 2, 3])
  t.equal(raw.encode(bytes), bytes, 'raw passes the same buffer through')
  t.throws(() => raw.encode('x'), { code: 'E_BAD_REQUEST' })
  const pb = createEncoder('protobuf')
  const pv = { n: 1.5, s: 'hé', list: [1, 'two', null, false, { deep: [] }], bin: new Uint8Array([9, 8]) }
  const back = pb.decode(pb.encode(pv)) as typeof pv
  t.same({ ...back, bin: Array.from(back.bin) }, { ...pv, bin: [9, 8] })
  t.throws(() => pb.encode(() => 1), { code: 'E_BAD_REQUEST' })
  const typed = createEncoder({ type: 'protobuf', options: { proto: 'syntax = "proto3"; package lab; message S { int32 id = 1; string name = 2; }', type: 'lab.S' } })
  const enc = typed.encode({ id: 42, name: 'x' })
  t.ok(enc.byteLength < 10, 'a typed message is compact')
  t.same(typed.decode(enc), { id: 42, name: 'x' })
  t.throws(() => typed.encode({ id: 'no' }), { code: 'E_BAD_REQUEST', message: /lab.S/ })
  t.throws(() => createEncoder({ type: 'protobuf', options: { proto: 'syntax = "proto3"; message A {}', type: 'B' } }), { code: 'E_CONFIG' })
})

t.test('credits bound the items in flight', async (t) => {
  const capacity = 3
  const gate = new CreditGate(capacity)
  const q = createQueue<number>('fifo', { capacity })
  const granter = new CreditGranter({ capacity, grant: (n) => gate.grant(n), batch: 1 })
  let maxHeld = 0
  const producer = (async () => {
    for (let i = 0; i < 100; i++) {
      await gate.take()
      t.ok(q.tryPut(i), 'a credit always means room') // never blocks: credits guarantee space
      maxHeld = Math.max(maxHeld, q.size)
    }
  })()
  const got: number[] = []
  for (let i = 0; i < 100; i++) {
    got.push(await q.get())
    granter.consumed()
    if (i % 7 === 0) await new Promise((r) => setImmediate(r))
  }
  await producer
  t.same(got, Array.from({ length: 100 }, (_, i) => i))
  t.ok(maxHeld <= capacity)
  gate.close(new Error('peer gone'))
  await t.rejects(gate.take(), /peer gone/)
})
