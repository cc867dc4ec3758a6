// The broker's fast path: the in-memory queue index, group commit, batch submit.
import t from 'tap'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { QueueIndex } from '../src/queue-index.js'
import { node, startBroker, waitFor } from './fixtures/helpers.js'

t.test('the queue index pops in priority, then submission order, and drops what left the queue', async (t) => {
  const gone = new Set<string>()
  const q = new QueueIndex((id) => !gone.has(id))
  const keys = Array.from({ length: 500 }, (_, i) => ({ id: `j${i}`, priority: (i * 7919) % 5, seq: i + 1 }))
  // pushed in a scrambled order
  for (const k of [...keys].sort((a, b) => ((a.seq * 104729) % 503) - ((b.seq * 104729) % 503))) q.push(k)
  q.push(keys[3]!)
  t.equal(q.size, 500, 'a job is held once')
  for (const k of keys) if (k.seq % 10 === 0) gone.add(k.id)
  const want = keys.filter((k) => !gone.has(k.id)).sort((a, b) => b.priority - a.priority || a.seq - b.seq).map((k) => k.id)
  const got: string[] = []
  for (let i = 0; i < 1000; i++) { const k = q.pop(); if (k === undefined) break; got.push(k.id) }
  t.same(got, want)
  t.equal(q.pop(), undefined)
})

t.test('a requeued job goes back to its place in the queue, ahead of later ones', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1 })])
  const first = broker.submit({ name: 'first', size: 1 }).jobId
  await waitFor(() => dispatcher.startsOf(first).length === 1, 'first to be dispatched')
  const second = broker.submit({ name: 'second', size: 1 }).jobId
  const cancelled = broker.submit({ name: 'cancelled', size: 1, priority: 9 }).jobId
  await broker.cancel(cancelled)
  await broker.nodeDown('a')
  t.equal(broker.get(first).state, 'queued', 'requeued')
  broker.updateNodes([node('b', { totalSlots: 1, freeSlots: 1 })])
  await waitFor(() => dispatcher.starts.length === 2, 'a second dispatch')
  t.same(dispatcher.starts.map((s) => s.job.id), [first, first], 'the requeued job runs before the one submitted after it; the cancelled one never')
  t.equal(broker.get(second).state, 'queued')
})

t.test('state changes are group-committed; flush() resolves once they are durable; submit is durable at return', async (t) => {
  const dir = t.testdir()
  const { broker } = await startBroker(dir)
  t.teardown(() => broker.stop())
  const reader = new Database(join(dir, 'broker.db'), { readonly: true })
  t.teardown(() => { reader.close() })
  const stateOf = (id: string): unknown => reader.prepare('SELECT state FROM jobs WHERE id = ?').pluck().get(id)

  const { jobId } = broker.submit({ name: 'x', size: 1 })
  t.equal(stateOf(jobId), 'queued', 'committed before submit returned')
  const cancelling = broker.cancel(jobId)
  t.equal(broker.get(jobId).state, 'cancelled', 'the broker sees the change at once')
  t.equal(stateOf(jobId), 'queued', 'another connection does not yet: the batch is open')
  await broker.flush()
  t.equal(stateOf(jobId), 'cancelled', 'committed once flush() resolved')
  await cancelling
  await broker.flush()

  const [batched] = broker.submitMany([{ request: { name: 'y', size: 1 } }], { commit: 'batch' })
  t.equal(stateOf(batched!.jobId), undefined, "commit 'batch': not yet in the store")
  await broker.flush()
  t.equal(stateOf(batched!.jobId), 'queued', 'in it once flush() resolved')
})

t.test('submitMany stores all in one transaction, in order, or none', async (t) => {
  const dir = t.testdir()
  const { broker } = await startBroker(dir)
  t.teardown(() => broker.stop())
  const out = broker.submitMany([{ request: { name: 'a', size: 1 } }, { request: { name: 'b', size: 2, children: [{}, {}] }, bundle: 'code' }, { request: { name: 'c', size: 1 } }])
  t.same(out.map((r) => broker.get(r.jobId).name), ['a', 'b', 'c'])
  t.equal(out[1]!.childJobIds.length, 2)
  t.match(broker.get(out[1]!.jobId).bundleSha, /^[0-9a-f]{64}$/)
  const before = broker.list({ limit: 1000 }).length
  t.throws(() => broker.submitMany([{ request: { name: 'ok', size: 1 } }, { request: { name: 'bad', size: 0 } }]), { code: 'E_BAD_REQUEST', message: /^submission 1: request\.size/ })
  t.equal(broker.list({ limit: 1000 }).length, before, 'nothing of the refused batch was stored')
  await broker.stop()
  const again = await startBroker(dir)
  t.teardown(() => again.broker.stop())
  t.same(again.broker.list({ limit: 1000 }).length, before, 'and what was stored survives a restart')
  t.same(out.map((r) => again.broker.get(r.jobId).state), ['queued', 'queued', 'queued'])
})

t.test('slots of a job whose ranks all exited are free at once; a stop alone waits for the next report', async (t) => {
  const { Cluster } = await import('../src/cluster.js')
  const c = new Cluster()
  c.update([node('a', { totalSlots: 2, freeSlots: 2, freeMemoryMB: 1000 })])
  c.reserve('j1', ['a', 'a'], 400)
  c.update([node('a', { totalSlots: 2, freeSlots: 0, freeMemoryMB: 200 })])
  t.equal(c.totalFreeSlots(), 0, 'the report counts j1')
  c.release('j1', { ended: true })
  t.equal(c.totalFreeSlots(), 2, 'j1 ended: its slots are free before the next report')
  t.equal(c.candidates(undefined, 400)[0]!.capacity, 2, 'and its memory')
  c.update([node('a', { totalSlots: 2, freeSlots: 0, freeMemoryMB: 200 })])
  t.equal(c.totalFreeSlots(), 2, 'the same report sent again is no news: j1 stays ended')
  c.reserve('j3', ['a'], 400)
  c.update([node('a', { totalSlots: 2, freeSlots: 1, freeMemoryMB: 600 })])
  c.release('j3')
  t.equal(c.totalFreeSlots(), 1, 'a stop that may not have reached the node: the report still bounds it')
  c.reserve('j4', ['a'], 400)
  c.release('j4', { ended: true })
  t.equal(c.totalFreeSlots(), 1, 'a job newer than the report was never in it: nothing to credit')
})

t.test('a node that finishes jobs gets the next ones without waiting for its report', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1 })])
  const ids = [0, 1, 2].map((i) => broker.submit({ name: `j${i}`, size: 1 }).jobId)
  for (const id of ids) {
    await waitFor(() => dispatcher.startsOf(id).length === 1, `${id} to be dispatched`)
    // the node's reports always lag: each says the node is full
    broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 0 })])
    broker.reportRank(id, { rank: 0, exitCode: 0 })
  }
  await waitFor(() => ids.every((id) => broker.get(id).state === 'succeeded'), 'all three to succeed')
  t.equal(dispatcher.starts.length, 3)
})
