// The broker's side of malleable jobs with a dispatcher that takes cuts when asked: refusals with
// stable codes, a resize restarting the job at the new size from the cut (placement kept, resume),
// what a restart then reads, and the automatic policy (grow into free slots, shrink for priority).
import t, { type Test } from 'tap'
import type { Broker, Job } from '@mvm/broker'
import { node, startBroker, waitFor, TestDispatcher } from './fixtures/helpers.js'

/** A dispatcher whose rank 0 answers a cut request with a complete cut of every rank (as the SDK would). */
class CutDispatcher extends TestDispatcher {
  broker!: Broker
  cuts = 0
  asked = 0
  async requestCut (job: Job): Promise<void> {
    this.asked++
    const cut = ++this.cuts
    setImmediate(() => {
      const j = this.broker.get(job.id)
      for (let r = 0; r < j.size; r++) {
        this.broker.saveCheckpoint(job.id, r, JSON.stringify({ $mvmCut: cut, point: cut, state: { rank: r, size: j.size, cut }, channels: {} }), { peerId: j.placement![r]! })
      }
    })
  }
}

const malleable = (min: number, max: number, auto = false): Record<string, unknown> => ({ malleable: { min, max, auto } })

async function lab (t: Test, over: Parameters<typeof startBroker>[1] = {}): Promise<{ broker: Broker, d: CutDispatcher }> {
  const d = new CutDispatcher()
  const { broker } = await startBroker(t.testdir(), { dispatcher: d, ...over })
  d.broker = broker
  t.teardown(() => broker.stop())
  return { broker, d }
}

t.test('by hand: refusals, then 2 → 4 → 2 from cuts, each new layout resumed from the cut of the old', async (t) => {
  const { broker, d } = await lab(t)
  broker.updateNodes([node('a', { totalSlots: 3, freeSlots: 3 }), node('b', { totalSlots: 3, freeSlots: 3 })])
  const plain = broker.submit({ name: 'plain', size: 1 }).jobId
  await t.rejects(broker.resize(plain, 2), { code: 'E_NOT_MALLEABLE', message: /not malleable/ })
  const { jobId } = broker.submit({ name: 'heat', size: 2, ...malleable(2, 4) })
  await waitFor(() => broker.get(jobId).state === 'running', 'running')
  await t.rejects(broker.resize(jobId, 5), { code: 'E_BAD_REQUEST', message: /size must be an integer from 2 to 4/ })
  await t.rejects(broker.resize(jobId, 1), { code: 'E_BAD_REQUEST' })
  const before = broker.get(jobId).placement!
  const grown = await broker.resize(jobId, 4, { by: 'alice' })
  t.equal(grown.size, 4)
  t.same(grown.placement!.slice(0, 2), before, 'the ranks keep their nodes; the grow adds two')
  t.equal(d.asked, 1, 'one cut asked of rank 0')
  t.ok(d.stops.some((s) => s.jobId === jobId && /resizing to 4/.test(s.reason)), 'the old layout was stopped')
  const start = d.startsOf(jobId).at(-1)!
  t.equal(start.resume, true, 'the new layout resumes')
  t.equal(start.placement.length, 4)
  t.same(broker.checkpoints(jobId).map((c) => (JSON.parse(c.stateJson) as { state: { size: number } }).state.size), [2, 2], 'before its own first cut it resumes from the 2-rank cut')
  t.match(broker.events(jobId).at(-1)!.detail, /resized from 2 to 4 ranks by alice/)
  await waitFor(() => broker.get(jobId).state === 'running', 'still running')
  const shrunk = await broker.resize(jobId, 2)
  t.equal(shrunk.size, 2)
  t.same(broker.checkpoints(jobId).map((c) => c.rank), [0, 1, 2, 3], 'the 2-rank layout starts from the 4-rank cut')
  t.equal(broker.get(jobId).request.resizes, 2, 'two resizes counted')
  // a cut of the new size replaces the old layout's
  for (let r = 0; r < 2; r++) broker.saveCheckpoint(jobId, r, JSON.stringify({ $mvmCut: 9, point: 9, state: { size: 2 }, channels: {} }), { peerId: shrunk.placement![r]! })
  t.same(broker.checkpoints(jobId).map((c) => c.seq), [9, 9], 'then its own complete cut')
  await t.rejects(broker.resize(jobId, 5), { code: 'E_BAD_REQUEST' })
  for (let r = 0; r < 2; r++) broker.reportRank(jobId, { rank: r, exitCode: 0, output: r })
  await waitFor(() => broker.get(jobId).state === 'succeeded', 'succeeded')
  await t.rejects(broker.resize(jobId, 3), { code: 'E_INVALID_STATE' }, 'an ended job is not resized')
})

t.test('a grow without free slots is E_CAPACITY; a resize does not count against maxRestarts', async (t) => {
  const { broker, d } = await lab(t, { faultTolerance: { recovery: 'requeue', maxRestarts: 0, retryFailedRanks: true } })
  broker.updateNodes([node('a', { totalSlots: 3, freeSlots: 3 })])
  const { jobId } = broker.submit({ size: 2, ...malleable(2, 4) })
  await waitFor(() => broker.get(jobId).state === 'running', 'running')
  await t.rejects(broker.resize(jobId, 4), { code: 'E_CAPACITY', message: /needs 2 free slots/ })
  await broker.resize(jobId, 3)
  await waitFor(() => broker.get(jobId).state === 'running', 'running at 3')
  broker.reportRank(jobId, { rank: 1, exitCode: 1, error: 'boom' })
  await waitFor(() => broker.get(jobId).state === 'failed', 'failed')
  t.match(broker.get(jobId).reason, /restarts exhausted: 0 of 0/, 'the resize was not counted as a restart')
  const again = await broker.requeue(jobId)
  t.equal(again.size, 2, 'a rerun starts again at min')
  t.equal(again.request.resizedFrom, undefined, 'with no resize behind it')
  await waitFor(() => broker.get(jobId).state === 'running', 'rerun running')
  t.same([d.startsOf(jobId).at(-1)!.placement.length, d.startsOf(jobId).at(-1)!.resume], [2, false], 'from scratch, at 2 ranks')
})

t.test('automatic: grows into free slots, shrinks for a queued job of higher priority', async (t) => {
  const { broker, d } = await lab(t, { resizeCooldownMs: 0 })
  broker.updateNodes([node('a', { totalSlots: 2, freeSlots: 2 }), node('b', { totalSlots: 2, freeSlots: 2 })])
  const { jobId } = broker.submit({ size: 2, priority: 0, ...malleable(2, 4, true) })
  await waitFor(() => broker.get(jobId).size === 4 && d.startsOf(jobId).length === 2, 'grown to 4')
  const manual = broker.submit({ size: 1, ...malleable(1, 4, false) }).jobId
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(broker.get(manual).state, 'queued', 'no slot left for another job')
  await broker.cancel(manual)
  const urgent = broker.submit({ size: 2, priority: 5 }).jobId
  await waitFor(() => broker.get(jobId).size === 2, 'shrunk to 2 for the urgent job', 10_000)
  await waitFor(() => broker.get(urgent).state === 'running', 'the urgent job runs')
  t.equal(broker.get(jobId).state, 'running', 'the malleable job runs on at 2')
})
