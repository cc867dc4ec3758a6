import t from 'tap'
import type { Broker } from '@mvm/broker'
import { RESTARTED_REASON } from '@mvm/broker/internal'
import { node, startBroker, waitFor, TestDispatcher } from './fixtures/helpers.js'

function finish (broker: Broker, jobId: string, exitCode = 0): void {
  const { size } = broker.get(jobId)
  for (let r = 0; r < size; r++) broker.reportRank(jobId, { rank: r, exitCode, output: r === 0 ? `out-${jobId}` : undefined })
}

t.test('priority first, then submission order; a job ends when all ranks report 0', async (t) => {
  const { broker, dispatcher, events } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  const low = broker.submit({ name: 'low', size: 1 }).jobId
  const high = broker.submit({ name: 'high', size: 1, priority: 5 }).jobId
  const mid1 = broker.submit({ name: 'mid1', size: 1, priority: 1 }).jobId
  const mid2 = broker.submit({ name: 'mid2', size: 1, priority: 1 }).jobId
  t.equal(broker.schedule(), 0, 'no nodes known: nothing placed')
  broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1 })])
  const order: string[] = []
  for (let i = 0; i < 4; i++) {
    await waitFor(() => dispatcher.starts.length === i + 1, `start ${i + 1}`)
    const id = dispatcher.starts[i]!.job.id
    order.push(id)
    await waitFor(() => broker.get(id).state === 'running', 'running')
    t.equal(broker.list({ state: 'scheduled' }).length + broker.list({ state: 'running' }).length, 1, 'one slot, one job at a time')
    finish(broker, id)
  }
  t.same(order, [high, mid1, mid2, low])
  const r = broker.result(high)
  t.equal(r.state, 'succeeded')
  t.equal(r.value, `out-${high}`)
  t.same(r.ranks.map((x) => x.exitCode), [0])
  t.ok(dispatcher.stops.some((s) => s.jobId === high && s.reason === 'succeeded'), 'stop() frees the ranks at the end')
  t.same(events.filter((e) => e.jobId === high && e.kind === 'state').map((e) => e.state), ['queued', 'scheduled', 'running', 'succeeded'])
  t.same(broker.events(high).map((e) => e.to), ['queued', 'scheduled', 'running', 'succeeded'])
})

for (const backfill of [true, false]) {
  t.test(`backfill ${String(backfill)}`, async (t) => {
    const { broker, dispatcher } = await startBroker(t.testdir(), { backfill })
    t.teardown(() => broker.stop())
    broker.updateNodes([node('a', { totalSlots: 4, freeSlots: 4 })])
    const big1 = broker.submit({ name: 'big1', size: 3 }).jobId
    await waitFor(() => broker.get(big1).state === 'running', 'big1 running')
    const big2 = broker.submit({ name: 'big2', size: 4 }).jobId
    const small = broker.submit({ name: 'small', size: 1 }).jobId
    broker.schedule()
    await new Promise((resolve) => setTimeout(resolve, 20))
    t.equal(broker.get(big2).state, 'queued', 'the head cannot fit')
    t.equal(broker.get(small).state, backfill ? 'running' : 'queued', backfill ? 'a smaller later job starts' : 'nothing passes the head')
    finish(broker, big1)
    if (backfill) finish(broker, small)
    await waitFor(() => broker.get(big2).state === 'running', 'big2 runs once room is free')
    finish(broker, big2)
    await waitFor(() => broker.get(small).state !== 'queued' && broker.get(small).state !== 'scheduled', 'small ran')
    const order = dispatcher.starts.map((s) => s.job.name)
    t.same(order, backfill ? ['big1', 'small', 'big2'] : ['big1', 'big2', 'small'])
  })
}

t.test('cancel a queued job, a running job, and refuse to cancel a finished one', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  const q = broker.submit({ size: 1 }).jobId
  const c = await broker.cancel(q, { by: 'alice' })
  t.equal(c.state, 'cancelled')
  t.equal(c.reason, 'cancelled by alice')
  broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
  const run = broker.submit({ size: 2 }).jobId
  const next = broker.submit({ size: 2 }).jobId
  await waitFor(() => broker.get(run).state === 'running', 'running')
  t.equal(broker.get(next).state, 'queued', 'no room for the next job yet')
  await broker.cancel(run, { by: 'bob' })
  t.equal(broker.get(run).state, 'cancelled')
  t.same(dispatcher.stops.find((s) => s.jobId === run), { jobId: run, placement: ['a', 'a'], reason: 'cancelled by bob' })
  await waitFor(() => broker.get(next).state === 'running', 'slots freed by the cancel are reused')
  t.notOk(dispatcher.starts.some((s) => s.job.id === q), 'a cancelled queued job never starts')
  const again = await broker.cancel(run, { by: 'carol' })
  t.equal(again.state, 'cancelled', 'a second cancel is idempotent')
  t.equal(again.reason, 'cancelled by bob', 'and keeps the first reason')
  broker.reportRank(run, { rank: 0, exitCode: 0 })
  t.equal(broker.get(run).state, 'cancelled', 'a late rank report does not revive a cancelled job')
  t.throws(() => broker.get('j-missing'), { code: 'E_NOT_FOUND' })
  await waitFor(() => broker.get(next).state === 'running', 'next running')
  broker.reportRank(next, { rank: 0, exitCode: 0 })
  broker.reportRank(next, { rank: 1, exitCode: 0 })
  await waitFor(() => broker.get(next).state === 'succeeded', 'next succeeded')
  await t.rejects(broker.cancel(next), { code: 'E_INVALID_STATE', message: /already succeeded; nothing to cancel/ }, 'a finished job has nothing to cancel')
})

t.test('one failing rank fails the job and stops the others', async (t) => {
  const { broker, dispatcher, events } = await startBroker(t.testdir(), { strategy: 'spread' })
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a'), node('b'), node('c')])
  const id = broker.submit({ size: 3 }).jobId
  await waitFor(() => broker.get(id).state === 'running', 'running')
  broker.ranksStarted(id, 3)
  t.ok(events.some((e) => e.kind === 'progress' && e.jobId === id && e.ranksStarted === 3), 'progress event for --wait')
  broker.reportRank(id, { rank: 0, exitCode: 0 })
  t.equal(broker.get(id).state, 'running')
  broker.reportRank(id, { rank: 2, exitCode: 3, error: 'TypeError: boom', peerId: 'c' })
  const job = broker.get(id)
  t.equal(job.state, 'failed')
  t.equal(job.reason, 'rank 2 on c failed: TypeError: boom')
  await waitFor(() => dispatcher.stops.some((s) => s.jobId === id), 'stop called')
  t.same(dispatcher.stops.find((s) => s.jobId === id)!.reason, job.reason)
  t.same(broker.result(id).ranks.map((r) => [r.rank, r.exitCode]), [[0, 0], [2, 3]])
  t.throws(() => broker.reportRank(id, { rank: 7, exitCode: 0 }), { code: 'E_BAD_REQUEST', message: /rank must be an integer from 0 to 2/ })
})

t.test('nodeDown requeues the jobs it touched, then fails them when restarts run out', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir(), { strategy: 'spread', faultTolerance: { recovery: 'requeue', maxRestarts: 1 } })
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1 }), node('b', { totalSlots: 1, freeSlots: 1 }), node('c', { totalSlots: 1, freeSlots: 1 })])
  const id = broker.submit({ size: 2 }).jobId
  const other = broker.submit({ size: 1 }).jobId
  await waitFor(() => broker.get(id).state === 'running' && broker.get(other).state === 'running', 'both running')
  const first = broker.get(id).placement!
  const down = first[0]!
  const spare = ['a', 'b', 'c'].find((p) => !first.includes(p) && !broker.get(other).placement!.includes(p))
  t.equal(spare, undefined, 'the cluster is full')
  await broker.nodeDown(down)
  t.ok(dispatcher.stops.some((s) => s.jobId === id && s.reason === `node ${down} went down`), 'remaining ranks are stopped')
  t.equal(broker.get(id).restarts, 1)
  t.equal(broker.get(other).state, 'running', 'jobs not on the node are untouched')
  finish(broker, other)
  await waitFor(() => broker.get(id).state === 'running', 'requeued job runs again')
  t.notOk(broker.get(id).placement!.includes(down), 'not on the dead node')
  await broker.nodeDown(broker.get(id).placement![0]!)
  t.equal(broker.get(id).state, 'failed')
  t.match(broker.get(id).reason, /went down \(restarts exhausted: 1 of 1\)/)
})

t.test('recovery "fail" fails at once; a rejected start requeues then fails', async (t) => {
  const dispatcher = new TestDispatcher()
  dispatcher.mode = 'fail'
  const { broker } = await startBroker(t.testdir(), { dispatcher, faultTolerance: { recovery: 'restart', maxRestarts: 2 } })
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a')])
  const id = broker.submit({ size: 1 }).jobId
  await waitFor(() => broker.get(id).state === 'failed', 'failed after retries')
  t.equal(dispatcher.startsOf(id).length, 3, 'first try + 2 restarts')
  t.same(dispatcher.startsOf(id).map((s) => s.resume), [false, true, true], 'restart policy asks ranks to resume from checkpoints')
  t.match(broker.get(id).reason, /dispatch failed: peer refused the job \(restarts exhausted: 2 of 2\)/)
  t.same(broker.events(id).map((e) => e.to), ['queued', 'scheduled', 'queued', 'scheduled', 'queued', 'scheduled', 'failed'])

  const d2 = new TestDispatcher()
  const b2 = (await startBroker(t.testdir(), { dispatcher: d2, faultTolerance: { recovery: 'fail', maxRestarts: 5 } })).broker
  t.teardown(() => b2.stop())
  b2.updateNodes([node('x')])
  const j = b2.submit({ size: 1 }).jobId
  await waitFor(() => b2.get(j).state === 'running', 'running')
  b2.updateNodes([node('x', { state: 'left' })])
  await waitFor(() => b2.get(j).state === 'failed', 'a report saying the node left fails its job')
  t.equal(b2.get(j).reason, 'node x went down')
})

t.test('setStrategy switches the policy for the next decision; a job may override it', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir(), { strategy: 'pack' })
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a'), node('b'), node('c')])
  const p1 = broker.submit({ size: 2 }).jobId
  await waitFor(() => broker.get(p1).state === 'running', 'p1')
  t.equal(new Set(broker.get(p1).placement).size, 1, 'pack: both ranks on one node')
  broker.setStrategy({ type: 'spread' })
  t.equal(broker.strategy(), 'spread')
  const s1 = broker.submit({ size: 2 }).jobId
  await waitFor(() => broker.get(s1).state === 'running', 's1')
  t.equal(new Set(broker.get(s1).placement).size, 2, 'spread: two nodes')
  const o = broker.submit({ size: 2, placement: { strategy: 'pack' } }).jobId
  await waitFor(() => broker.get(o).state === 'running', 'o')
  t.equal(new Set(broker.get(o).placement).size, 1, 'the profile\'s strategy wins for that job')
  t.throws(() => broker.setStrategy('nope'), { code: 'E_UNKNOWN_COMPONENT' })
  t.equal(broker.strategy(), 'spread', 'a bad name leaves the current strategy in place')
  t.equal(dispatcher.starts.length, 3)
  t.throws(() => broker.updateNodes([{ ...node('z'), freeSlots: -1 }]), { code: 'E_BAD_REQUEST', message: /nodes\[0\]\.freeSlots/ })
})

t.test('array job: children run, the parent summarises, result collects values', async (t) => {
  const { broker } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a')])
  const { jobId, childJobIds } = broker.submit({ name: 'sweep', size: 1, children: [{ params: { x: 1 } }, { params: { x: 2 } }] }, { bundle: 'export default 1' })
  await waitFor(() => childJobIds.every((id) => broker.get(id).state === 'running'), 'children running')
  t.equal(broker.get(jobId).state, 'running')
  t.same(broker.get(childJobIds[1]!).request.params, { x: 2 })
  t.equal(broker.get(childJobIds[0]!).bundleSha, broker.get(jobId).bundleSha)
  t.equal(Buffer.from(broker.bundle(broker.get(jobId).bundleSha!)!).toString(), 'export default 1')
  for (const id of childJobIds) finish(broker, id)
  t.equal(broker.get(jobId).state, 'succeeded')
  t.same(broker.result(jobId).value, childJobIds.map((id) => `out-${id}`))
  t.same(broker.list({ parentId: jobId }).map((j) => j.id), childJobIds)
  const second = broker.submit({ size: 1, children: [{}, {}] })
  await broker.cancel(second.jobId, { by: 'carol' })
  t.equal(broker.get(second.jobId).state, 'cancelled')
})

t.test('a restarted broker requeues what was running and schedules the queue again', async (t) => {
  const dir = t.testdir()
  const first = await startBroker(dir)
  first.broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1 })])
  const running = first.broker.submit({ size: 1 }).jobId
  const queued = first.broker.submit({ size: 1 }).jobId
  await waitFor(() => first.broker.get(running).state === 'running', 'running')
  await first.broker.stop()
  t.throws(() => first.broker.get(running), { code: 'E_UNAVAILABLE' })
  const second = await startBroker(dir)
  t.teardown(() => second.broker.stop())
  const j = second.broker.get(running)
  t.equal(j.state, 'queued')
  t.equal(j.restarts, 1)
  t.equal(j.reason, RESTARTED_REASON)
  t.ok(second.dispatcher.stops.some((s) => s.jobId === running && s.reason === RESTARTED_REASON), 'leftover ranks are told to stop')
  second.broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1 })])
  await waitFor(() => second.broker.get(running).state === 'running', 'requeued job keeps its place at the head')
  t.equal(second.broker.get(queued).state, 'queued')
})

t.test('after a restart, a failed rank of the recovered job restarts it once more; later failures are the verdict', async (t) => {
  const dir = t.testdir()
  const first = await startBroker(dir)
  first.broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
  const id = first.broker.submit({ size: 2 }).jobId
  await waitFor(() => first.broker.get(id).state === 'running', 'running')
  await first.broker.stop()
  const second = await startBroker(dir)
  t.teardown(() => second.broker.stop())
  second.broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
  await waitFor(() => second.broker.get(id).state === 'running', 'running again after the restart')
  // a rank of the run before the restart (or one it broke) ends badly: part of the recovery
  second.broker.reportRank(id, { rank: 0, exitCode: 1, error: 'E_INVALID_STATE: port "next": the peer rank has finished' })
  await waitFor(() => second.dispatcher.startsOf(id).length === 2 && second.broker.get(id).state === 'running', 'restarted, not failed')
  t.equal(second.broker.get(id).restarts, 2, 'counted as a restart')
  t.equal(second.broker.get(id).failureStreak ?? 0, 0, 'not a failure of the program')
  second.broker.reportRank(id, { rank: 1, exitCode: 1, error: 'boom' })
  await waitFor(() => second.broker.get(id).state === 'failed', 'the next failure fails it')
  t.match(second.broker.get(id).reason, /rank 1 failed: boom/)
})

t.test('a data directory that cannot hold the store is a clear ConfigError', async (t) => {
  const dir = t.testdir({ 'not-a-dir': 'a file' })
  await t.rejects(startBroker(`${dir}/not-a-dir`), { code: 'E_CONFIG', message: /not-a-dir\/broker\.db: cannot open the job store/ })
})

t.test('checkpoints: latest per rank, stale and foreign saves refused, gone when the job ends', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
  const { jobId } = broker.submit({ name: 'ck', size: 2 })
  t.equal(broker.saveCheckpoint(jobId, 0, '{"i":1}', { seq: 1 }), false, 'not saved before the job is dispatched')
  await waitFor(() => dispatcher.starts.length === 1, 'dispatched')
  await waitFor(() => broker.get(jobId).state === 'running', 'running')
  t.equal(broker.saveCheckpoint(jobId, 0, '{"i":1}', { seq: 1, peerId: 'a' }), true)
  t.equal(broker.saveCheckpoint(jobId, 0, '{"i":3}', { seq: 3, peerId: 'a' }), true)
  t.equal(broker.saveCheckpoint(jobId, 0, '{"i":2}', { seq: 2, peerId: 'a' }), false, 'an older seq does not replace a newer one')
  t.equal(broker.saveCheckpoint(jobId, 1, '{"i":9}', { seq: 1, peerId: 'elsewhere' }), false, 'a peer the rank is not placed on is refused')
  t.throws(() => broker.saveCheckpoint(jobId, 2, '{}'), { code: 'E_BAD_REQUEST' }, 'rank out of range')
  t.throws(() => broker.saveCheckpoint(jobId, 0, '{not json'), { code: 'E_BAD_REQUEST' }, 'state must be JSON')
  t.same(broker.checkpoints(jobId).map((c) => [c.rank, JSON.parse(c.stateJson)]), [[0, { i: 3 }]])
  finish(broker, jobId)
  await waitFor(() => broker.get(jobId).state === 'succeeded', 'succeeded')
  t.same(broker.checkpoints(jobId), [], 'deleted with the job\'s end')
})

t.test('coordinated cuts: a restart reads the newest cut every rank stored, never a mix', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
  const { jobId } = broker.submit({ name: 'cut', size: 2 })
  await waitFor(() => dispatcher.starts.length === 1, 'dispatched')
  await waitFor(() => broker.get(jobId).state === 'running', 'running')
  const env = (cut: number, rank: number): string => JSON.stringify({ $mvmCut: cut, point: cut * 2, state: { rank, cut }, channels: {} })
  const restored = (): unknown[] => broker.checkpoints(jobId).map((c) => [c.rank, c.seq, (JSON.parse(c.stateJson) as { state: unknown }).state])
  t.ok(broker.saveCheckpoint(jobId, 0, env(1, 0), { peerId: 'a' }))
  t.same(restored(), [], 'one rank of cut 1 is not a cut')
  t.ok(broker.saveCheckpoint(jobId, 1, env(1, 1), { peerId: 'a' }))
  t.same(restored(), [[0, 1, { rank: 0, cut: 1 }], [1, 1, { rank: 1, cut: 1 }]], 'cut 1 complete')
  t.ok(broker.saveCheckpoint(jobId, 0, env(2, 0), { peerId: 'a' }))
  t.ok(broker.saveCheckpoint(jobId, 0, env(3, 0), { peerId: 'a' }))
  t.same(restored().map((r) => (r as number[])[1]), [1, 1], 'rank 0 ahead alone: still cut 1')
  t.ok(broker.saveCheckpoint(jobId, 1, env(2, 1), { peerId: 'a' }))
  t.same(restored().map((r) => (r as number[])[1]), [2, 2], 'cut 2 complete, cut 3 still partial')
  finish(broker, jobId)
  await waitFor(() => broker.get(jobId).state === 'succeeded', 'succeeded')
  t.same(broker.checkpoints(jobId), [], 'cuts deleted with the job\'s end')
})

t.test('a failed rank fails the job at once, unless fault tolerance retries failed ranks', async (t) => {
  const fail = (broker: Broker, jobId: string): void => { broker.reportRank(jobId, { rank: 1, exitCode: 1, error: 'boom' }) }
  t.test('default: no retry', async (t) => {
    const { broker, dispatcher } = await startBroker(t.testdir())
    t.teardown(() => broker.stop())
    broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
    const { jobId } = broker.submit({ name: 'once', size: 2 })
    await waitFor(() => broker.get(jobId).state === 'running', 'running')
    fail(broker, jobId)
    await waitFor(() => broker.get(jobId).state === 'failed', 'failed')
    t.match(broker.get(jobId).reason, /rank 1 failed: boom/)
    t.equal(dispatcher.starts.length, 1, 'started once')
  })
  t.test('retryFailedRanks: requeued until restarts run out, the other ranks stopped each time', async (t) => {
    const { broker, dispatcher } = await startBroker(t.testdir(), { faultTolerance: { recovery: 'requeue', maxRestarts: 1, retryFailedRanks: true } })
    t.teardown(() => broker.stop())
    broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
    const { jobId } = broker.submit({ name: 'retry', size: 2 })
    await waitFor(() => broker.get(jobId).state === 'running', 'running')
    fail(broker, jobId)
    await waitFor(() => dispatcher.starts.length === 2, 'dispatched again')
    t.equal(broker.get(jobId).restarts, 1, 'counted as a restart')
    t.ok(dispatcher.stops.some((s) => s.jobId === jobId && /boom/.test(s.reason)), 'the first attempt\'s ranks were stopped')
    await waitFor(() => broker.get(jobId).state === 'running', 'running again')
    t.same(broker.result(jobId).ranks, [], 'the failed attempt\'s rank results were cleared')
    fail(broker, jobId)
    await waitFor(() => broker.get(jobId).state === 'failed', 'failed once restarts are exhausted')
    t.match(broker.get(jobId).reason, /restarts exhausted/)
    t.equal(dispatcher.starts.length, 2)
  })
})

t.test('job ids as unique prefixes: of the id, or of its random part; ambiguous ones list the candidates', async (t) => {
  const { broker } = await startBroker(t.testdir(), {})
  t.teardown(() => broker.stop())
  const a = broker.submit({ size: 1 }).jobId
  const b = broker.submit({ size: 1 }).jobId
  t.equal(broker.resolveId(a), a, 'a full id is itself')
  t.equal(broker.resolveId(a.slice(0, -2)), a, 'a unique prefix of the id')
  const tail = a.slice(a.lastIndexOf('-') + 1)
  t.equal(broker.resolveId(tail.slice(0, 6)), a, 'a prefix of the random part, without j-')
  let common = 0
  while (a[common] === b[common]) common++
  t.throws(() => broker.resolveId(a.slice(0, common)), { code: 'E_BAD_REQUEST', message: new RegExp(`ambiguous.*(${a}.*${b}|${b}.*${a})`) }, 'ambiguous: both candidates listed (in id order, which is random within one millisecond)')
  t.throws(() => broker.resolveId('j-zzz'), { code: 'E_NOT_FOUND' })
  t.throws(() => broker.resolveId('j-'), { code: 'E_NOT_FOUND' }, 'too short to be a prefix')
})

t.test('poison jobs: held after poisonAfter node deaths, kept held across a restart, released back to queued', async (t) => {
  const dir = t.testdir()
  const { broker } = await startBroker(dir, { faultTolerance: { recovery: 'requeue', maxRestarts: 5 } })
  broker.updateNodes(['a', 'b', 'c', 'd'].map((p) => node(p, { totalSlots: 1, freeSlots: 1 })))
  const id = broker.submit({ size: 1 }).jobId
  const dead: string[] = []
  for (let i = 0; i < 2; i++) {
    await waitFor(() => broker.get(id).state === 'running', `run ${i + 1}`)
    const p = broker.get(id).placement![0]!
    t.notOk(dead.includes(p), 'not placed on a dead node')
    dead.push(p)
    await broker.nodeDown(p)
  }
  const held = broker.get(id)
  t.equal(held.state, 'held', 'held after the second node death, with restarts left')
  t.match(held.reason, new RegExp(`^held: 2 nodes went down while it ran \\(last: node ${dead[1]!} went down\\); \`mvm release ${id}\``))
  t.equal(held.restarts, 1, 'only the first death requeued it')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(broker.get(id).state, 'held', 'a held job is not scheduled, though two nodes are free')
  await t.rejects(broker.release(broker.submit({ size: 9 }).jobId), { code: 'E_INVALID_STATE', message: /is queued, not held/ })
  await broker.stop()

  const again = await startBroker(dir, { faultTolerance: { recovery: 'requeue', maxRestarts: 5 } })
  t.teardown(() => again.broker.stop())
  const b = again.broker
  t.equal(b.get(id).state, 'held', 'still held after a broker restart')
  t.same(b.list({ state: 'held' }).map((j) => j.id), [id])
  b.updateNodes(['c', 'd'].map((p) => node(p, { totalSlots: 1, freeSlots: 1 })))
  const rel = await b.release(id, { by: 'alice' })
  t.equal(rel.state, 'queued')
  t.equal(rel.nodeDeaths, 0, 'released with a fresh count')
  t.match(b.events(id).at(-1)?.detail, /^released by alice \(was held: held: 2 nodes went down/)
  await waitFor(() => b.get(id).state === 'running', 'the released job runs again')
  await b.nodeDown(b.get(id).placement![0]!)
  t.equal(b.get(id).state, 'queued', 'one death after release only requeues it')
})

t.test('poison jobs: the same rank failure twice in a row holds the job; poisonAfter 0 never holds', async (t) => {
  for (const poisonAfter of [2, 0]) {
    const { broker } = await startBroker(t.testdir(), { faultTolerance: { recovery: 'requeue', maxRestarts: 3, retryFailedRanks: true, poisonAfter } })
    broker.updateNodes(['a', 'b'].map((p) => node(p, { totalSlots: 2, freeSlots: 2 })))
    const id = broker.submit({ size: 1 }).jobId
    for (let i = 0; i < 4 && broker.get(id).state !== 'held' && broker.get(id).state !== 'failed'; i++) {
      await waitFor(() => broker.get(id).state === 'running', `run ${i + 1}`)
      const p = broker.get(id).placement![0]!
      const before = broker.get(id).restarts
      broker.reportRank(id, { rank: 0, exitCode: 1, error: 'E_INTERNAL: boom', peerId: p })
      await waitFor(() => broker.get(id).restarts > before || ['held', 'failed'].includes(broker.get(id).state), `run ${i + 1} given up`)
    }
    const j = broker.get(id)
    if (poisonAfter === 2) {
      t.equal(j.state, 'held')
      t.match(j.reason, /^held: failed the same way 2 times in a row \(rank 0 on \w+ failed: E_INTERNAL: boom\)/)
    } else {
      t.equal(j.state, 'failed', 'without holding, restarts run out')
      t.match(j.reason, /restarts exhausted: 3 of 3/)
    }
    await broker.stop()
  }
  await t.rejects(startBroker(t.testdir(), { faultTolerance: { recovery: 'requeue', maxRestarts: 1, poisonAfter: -1 } }), { code: 'E_BAD_REQUEST', message: /poisonAfter/ })
})

t.test('dependsOn: the written forms are normalised to { jobId, type }; bad ones name the field', async (t) => {
  const { broker } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  const a = broker.submit({ name: 'prep', size: 1 }).jobId
  const b = broker.submit({ name: 'other', size: 1 }).jobId
  const dep = broker.submit({ size: 1, dependsOn: [`afterok:${a}:${b}`, { job: 'prep', type: 'afterany' }, b.slice(0, -2)] as never }).jobId
  t.same(broker.get(dep).request.dependsOn, [{ jobId: a, type: 'afterok' }, { jobId: b, type: 'afterok' }, { jobId: a, type: 'afterany' }], 'by id, by name, by prefix; duplicates once')
  t.throws(() => broker.submit({ size: 1, dependsOn: [{ job: a, type: 'before' }] as never }), { code: 'E_BAD_REQUEST', message: /request\.dependsOn\[0\]\.type: must be one of afterok, afterany, afternotok/ })
  t.throws(() => broker.submit({ size: 1, dependsOn: ['afterok:'] as never }), { code: 'E_BAD_REQUEST', message: /request\.dependsOn\[0\]: "afterok:": a job id or name must follow/ })
  t.throws(() => broker.submit({ size: 1, dependsOn: [{ job: 'nobody', type: 'afterok' }] as never }), { code: 'E_BAD_REQUEST', message: /request\.dependsOn\[0\]\.job: no job "nobody"/ })
})

t.test('an array job waits on its dependency element by element, and is cancelled whole when it fails', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 4, freeSlots: 4 })])
  const first = broker.submit({ name: 'first', size: 1 }).jobId
  const arr = broker.submit({ name: 'sweep', size: 1, dependsOn: [{ jobId: first, type: 'afterok' }], children: [{}, {}] })
  await waitFor(() => broker.get(first).state === 'running', 'first running')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(arr.childJobIds.map((id) => broker.get(id).state), ['queued', 'queued'], 'free slots, but the elements wait')
  t.equal(broker.waitReason(arr.childJobIds[0]!), `waiting on job ${first} (running) to succeed`)
  t.equal(broker.waitReason(arr.jobId), `element ${arr.childJobIds[0]!}: waiting on job ${first} (running) to succeed`, 'the parent tells of its first waiting element')
  finish(broker, first, 3)
  t.same(arr.childJobIds.map((id) => broker.get(id).reason), [`dependency ${first} failed (afterok)`, `dependency ${first} failed (afterok)`])
  t.equal(broker.get(arr.jobId).state, 'cancelled')
  t.equal(dispatcher.starts.length, 1, 'no element ever started')
})

t.test('wait reasons the pass found: a strategy with no placement; the queue behind a head without backfill', async (t) => {
  const { broker } = await startBroker(t.testdir(), { backfill: false })
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
  const head = broker.submit({ name: 'head', size: 3 }).jobId
  const next = broker.submit({ name: 'next', size: 1 }).jobId
  broker.schedule()
  t.equal(broker.waitReason(head), 'needs 3 slots, group has only 2')
  t.equal(broker.waitReason(next), `behind ${head} at the head of the queue (backfill is off)`)
  await broker.cancel(head)
  await waitFor(() => broker.get(next).state === 'running', 'next runs once the head is gone')
  t.equal(broker.waitReason(next), null, 'a running job has no wait reason')
})

t.test('requeue of a running job stops its ranks before it is queued again; hold only takes a queued job', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1 })])
  const id = broker.submit({ name: 'r', size: 1 }).jobId
  const other = broker.submit({ name: 'o', size: 1 }).jobId
  await waitFor(() => broker.get(id).state === 'running', 'running')
  await t.rejects(broker.hold(id), { code: 'E_INVALID_STATE', message: /is running; only a queued job can be held/ })
  t.equal((await broker.hold(other, { by: 'bob' })).reason, 'held by bob')
  const stopsBefore = dispatcher.stops.length
  const q = await broker.requeue(id, { by: 'bob' })
  t.equal(q.state, 'queued')
  t.ok(dispatcher.stops.slice(stopsBefore).some((s) => s.jobId === id), 'its ranks were told to stop')
  t.equal(q.restarts, 0, 'a fresh run')
  t.match(broker.events(id).at(-1)?.detail, /^requeued by bob \(was running\)/)
  await t.rejects(broker.requeue(other), { code: 'E_INVALID_STATE', message: /is held; .*release it instead/ })
  await waitFor(() => broker.get(id).state === 'running', 'placed again (the held job is passed over)')
  finish(broker, id)
  t.equal((await broker.requeue(id)).state, 'queued', 'a succeeded job runs again')
  t.equal(broker.result(id).ranks.length, 0, 'without the old run\'s ranks')
})

t.test('a gated job waits with the gate\'s reason until opened; failQueued fails a queued job', async (t) => {
  const { broker, dispatcher } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 })])
  const g = broker.submit({ name: 'gated', size: 1 }).jobId
  broker.gate(g, 'building environment abc')
  const free = broker.submit({ name: 'free', size: 1 }).jobId
  await waitFor(() => broker.get(free).state === 'running', 'the ungated job runs')
  broker.schedule()
  t.equal(broker.get(g).state, 'queued', 'a free slot is there, but the gated job waits')
  t.equal(broker.waitReason(g), 'building environment abc')
  broker.openGate(g)
  await waitFor(() => broker.get(g).state === 'running', 'the opened job runs')
  t.equal(dispatcher.starts.filter((s) => s.job.id === g).length, 1, 'started once')
  finish(broker, g)
  finish(broker, free)
  const f = broker.submit({ name: 'doomed', size: 1 }).jobId
  broker.gate(f, 'building environment def')
  broker.failQueued(f, 'environment def could not be built: npm ERR! bad tarball')
  t.equal(broker.get(f).state, 'failed')
  t.equal(broker.get(f).reason, 'environment def could not be built: npm ERR! bad tarball')
  broker.openGate(f)
  broker.failQueued(f, 'again')
  t.equal(broker.get(f).reason, 'environment def could not be built: npm ERR! bad tarball', 'no-ops once it left the queue')
  t.notOk(dispatcher.starts.some((s) => s.job.id === f), 'a failed queued job never starts')
})
