import t from 'tap'
import { placeWithPins, schedulingStrategies, type Candidate } from '@mvm/broker'
import { node, startBroker, waitFor } from './fixtures/helpers.js'

const cand = (peerId: string, capacity: number): Candidate => ({ ...node(peerId), capacity })
const cut = (n: number, v: string): string => JSON.stringify({ $mvmCut: n, point: n, state: v, channels: {} })

t.test('placeWithPins: pinned ranks on their nodes, the rest by the strategy, capacity never exceeded', async (t) => {
  const rr = schedulingStrategies.resolve('round-robin')
  const job = { jobId: 'j', size: 4, memoryMB: 0 }
  const p = placeWithPins(rr, job, [cand('a', 2), cand('b', 2), cand('c', 1)], new Map([[1, 'c'], [3, 'a']]))
  t.equal(p?.[1], 'c', 'rank 1 pinned to c')
  t.equal(p?.[3], 'a', 'rank 3 pinned to a')
  t.equal(p?.length, 4, 'every rank placed')
  const per = new Map<string, number>()
  for (const x of p ?? []) per.set(x, (per.get(x) ?? 0) + 1)
  t.ok((per.get('a') ?? 0) <= 2 && (per.get('b') ?? 0) <= 2 && (per.get('c') ?? 0) <= 1, `no node over its capacity (${p?.join(',') ?? ''})`)
  t.equal(placeWithPins(rr, job, [cand('a', 2), cand('b', 2)], new Map([[0, 'c']])), null, 'a pin to a node that is not a candidate: null')
  t.equal(placeWithPins(rr, job, [cand('a', 1), cand('b', 4)], new Map([[0, 'a'], [1, 'a']])), null, 'two pins on a node with room for one: null')
  t.equal(placeWithPins(rr, job, [cand('a', 1), cand('b', 1)], new Map([[0, 'a']])), null, 'no room for the unpinned ranks: null')
  t.equal(placeWithPins(rr, job, [cand('a', 4)], new Map([[7, 'a']])), null, 'a pin for a rank the job does not have: null')
})

t.test('relocate: the ranks stop, the job starts again at once where pinned, resuming, without counting a restart', async (t) => {
  const { broker, dispatcher, events } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 }), node('b', { totalSlots: 2, freeSlots: 2 }), node('c', { totalSlots: 2, freeSlots: 2 })])
  const { jobId } = broker.submit({ name: 'ring', size: 2 })
  await waitFor(() => broker.get(jobId).state === 'running', 'running')
  const before = broker.get(jobId).placement!
  const target = ['a', 'b', 'c'].find((p) => !before.includes(p))!
  // a complete cut 1, and a cut 2 only rank 0 sent before the move
  for (const r of [0, 1]) t.ok(broker.saveCheckpoint(jobId, r, cut(1, `r${r}c1`), { peerId: before[r] }), `rank ${r} cut 1 kept`)
  broker.saveCheckpoint(jobId, 0, cut(2, 'stale'), { peerId: before[0] })
  t.throws(() => broker.planRelocation(jobId, new Map([[0, before[0]!], [1, before[0]!], [2, target]])), { code: 'E_CAPACITY' }, 'a pin for a rank the job does not have: no placement')
  const moved = await broker.relocate(jobId, { pins: new Map([[0, before[0]!], [1, target]]), reason: `migrating rank 1 to ${target}` })
  t.same(moved.placement, [before[0], target], 'rank 1 on its new node, rank 0 where it was')
  t.equal(moved.restarts, 0, 'not counted as a restart')
  t.ok(dispatcher.stops.some((s) => s.jobId === jobId && s.reason.startsWith('migrating')), 'the old ranks were stopped')
  const starts = dispatcher.startsOf(jobId)
  t.equal(starts.length, 2, 'started again')
  t.equal(starts[1]!.resume, true, 'resuming from the cut although the recovery policy is requeue')
  t.same(events.filter((e) => e.jobId === jobId && e.kind === 'state').map((e) => e.state), ['queued', 'scheduled', 'running', 'queued', 'scheduled'], 'through queued, not held back by a pass')
  t.same(broker.checkpoints(jobId).map((c) => c.stateJson), [cut(1, 'r0c1'), cut(1, 'r1c1')], 'resumes from the complete cut')
  await waitFor(() => broker.get(jobId).state === 'running', 'running again')
  // the next run's cut 2 is its own: the stale share of the stopped run was dropped
  for (const r of [0, 1]) broker.saveCheckpoint(jobId, r, cut(2, `r${r}new`), { peerId: moved.placement![r] })
  t.same(broker.checkpoints(jobId).map((c) => c.stateJson), [cut(2, 'r0new'), cut(2, 'r1new')], 'the new run\'s cut 2, not the stopped run\'s share')
  await t.rejects(broker.relocate('j-none', { pins: new Map(), reason: 'x' }), { code: 'E_NOT_FOUND' }, 'an unknown job')
})

t.test('a drained node takes no new ranks and a waiting job says so; undrained it does', async (t) => {
  const { broker } = await startBroker(t.testdir())
  t.teardown(() => broker.stop())
  broker.updateNodes([node('a', { totalSlots: 1, freeSlots: 1, labels: { name: 'alpha' } }), node('b', { totalSlots: 1, freeSlots: 1 })])
  broker.setDrained(['a'])
  const { jobId } = broker.submit({ name: 'two', size: 2 })
  broker.schedule()
  t.equal(broker.get(jobId).state, 'queued', 'two ranks do not fit on b alone')
  t.match(broker.waitReason(jobId), /alpha.*is draining/, `the wait reason names the drained node: ${broker.waitReason(jobId) ?? ''}`)
  const { jobId: one } = broker.submit({ name: 'one', size: 1 })
  await waitFor(() => broker.get(one).state === 'running', 'the 1-rank job runs')
  t.same(broker.get(one).placement, ['b'], 'on the node that is not drained')
  t.same(broker.jobsOn('b'), [one], 'jobsOn lists it')
  t.throws(() => broker.planRelocation(one, new Map([[0, 'a']])), { code: 'E_CAPACITY' }, 'no rank moves to a drained node')
  broker.setDrained([])
  broker.reportRank(one, { rank: 0, exitCode: 0 })
  await waitFor(() => broker.get(jobId).state === 'running', 'the 2-rank job runs once the drain is undone')
})
