import t from 'tap'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { InvalidStateError, NotFoundError } from '@mvm/core'
import { JobStore } from '../src/store.js'
import { toNewJobs } from '../src/validate.js'
import { schemaVersion } from '../src/schema.js'

function open (dir: string): JobStore {
  let clock = 1_000
  return new JobStore(dir, () => clock++)
}

t.test('legal transitions are stored with events and timestamps', async (t) => {
  const dir = t.testdir()
  const store = open(dir)
  t.teardown(() => { store.close() })
  const { parent } = toNewJobs({ name: 'a', size: 2, priority: 3 })
  const { jobId, childJobIds } = store.submit(parent, [])
  t.same(childJobIds, [])
  t.match(jobId, /^j-[0-9a-z]{9}-[0-9a-z]{8}$/)
  store.transition(jobId, 'scheduled', { placement: ['p1', 'p2'] })
  store.transition(jobId, 'running')
  store.transition(jobId, 'succeeded', { result: { sum: 3 } })
  const job = store.mustGet(jobId)
  t.equal(job.state, 'succeeded')
  t.same(job.placement, ['p1', 'p2'])
  t.same(job.result, { sum: 3 })
  t.equal(job.priority, 3)
  t.ok(job.startedAt !== null && job.endedAt !== null && job.endedAt > job.startedAt)
  t.same(store.events(jobId).map((e) => [e.from, e.to]), [[null, 'queued'], ['queued', 'scheduled'], ['scheduled', 'running'], ['running', 'succeeded']])
  t.ok(store.events(jobId).every((e, i, a) => i === 0 || e.at > a[i - 1]!.at), 'event times increase')
})

t.test('illegal transitions throw InvalidStateError and change nothing', async (t) => {
  const store = open(t.testdir())
  t.teardown(() => { store.close() })
  const { jobId } = store.submit(toNewJobs({ size: 1 }).parent, [])
  t.throws(() => store.transition(jobId, 'running'), InvalidStateError, 'queued → running is not allowed')
  t.throws(() => store.transition(jobId, 'succeeded'), InvalidStateError)
  store.transition(jobId, 'cancelled', { reason: 'cancelled by bob' })
  for (const to of ['queued', 'scheduled', 'running', 'failed'] as const) {
    t.throws(() => store.transition(jobId, to), { code: 'E_INVALID_STATE' }, `cancelled → ${to}`)
  }
  t.equal(store.mustGet(jobId).state, 'cancelled')
  t.equal(store.mustGet(jobId).reason, 'cancelled by bob')
  t.equal(store.events(jobId).length, 2)
  t.throws(() => store.transition('j-nope', 'scheduled'), NotFoundError)
})

t.test('requeue clears placement and rank results and counts a restart', async (t) => {
  const store = open(t.testdir())
  t.teardown(() => { store.close() })
  const { jobId } = store.submit(toNewJobs({ size: 2 }).parent, [])
  store.transition(jobId, 'scheduled', { placement: ['a', 'b'] })
  store.transition(jobId, 'running')
  store.putRank(jobId, { rank: 0, exitCode: 0, output: 1 })
  store.transition(jobId, 'queued', { reason: 'node b went down', countRestart: true })
  const job = store.mustGet(jobId)
  t.equal(job.restarts, 1)
  t.equal(job.placement, null)
  t.equal(job.startedAt, null)
  t.same(store.ranks(jobId), [])
})

t.test('array parent summarises its children', async (t) => {
  const store = open(t.testdir())
  t.teardown(() => { store.close() })
  const { parent, children } = toNewJobs({ name: 'sweep', size: 1, priority: 5, children: [{ params: { x: 1 } }, { params: { x: 2 }, size: 2 }, { params: { x: 3 } }] })
  const { jobId, childJobIds } = store.submit(parent, children)
  t.equal(childJobIds.length, 3)
  const p0 = store.mustGet(jobId)
  t.same(p0.childIds, childJobIds)
  t.equal(p0.size, 4, 'parent size is the sum of its children')
  const kids = childJobIds.map((id) => store.mustGet(id))
  t.same(kids.map((k) => [k.name, k.priority, k.size, k.parentId]), [['sweep', 5, 1, jobId], ['sweep', 5, 2, jobId], ['sweep', 5, 1, jobId]])
  t.throws(() => store.transition(jobId, 'scheduled'), InvalidStateError, 'a parent is never scheduled itself')
  const [a, b, c] = childJobIds as [string, string, string]
  store.transition(a, 'scheduled', { placement: ['p'] })
  t.equal(store.mustGet(jobId).state, 'running', 'running once a child left the queue')
  store.transition(a, 'running')
  store.transition(a, 'succeeded')
  t.equal(store.mustGet(jobId).state, 'running')
  store.transition(b, 'scheduled', { placement: ['p', 'p'] })
  store.transition(b, 'failed', { reason: 'rank 1 failed' })
  t.equal(store.mustGet(jobId).state, 'running', 'not terminal while a child is queued')
  const changes = store.transition(c, 'cancelled')
  t.equal(changes.length, 2, 'the parent change is reported with the child change')
  const p = store.mustGet(jobId)
  t.equal(p.state, 'failed')
  t.match(p.reason, /1 of 3 child jobs failed/)
  t.same(store.events(jobId).map((e) => e.to), ['queued', 'running', 'failed'])
})

t.test('all succeeded → parent succeeded', async (t) => {
  const store = open(t.testdir())
  t.teardown(() => { store.close() })
  const { parent, children } = toNewJobs({ size: 1, children: [{}, {}] })
  const { jobId, childJobIds } = store.submit(parent, children)
  for (const id of childJobIds) { store.transition(id, 'scheduled', { placement: ['p'] }); store.transition(id, 'running'); store.transition(id, 'succeeded') }
  t.equal(store.mustGet(jobId).state, 'succeeded')
})

t.test('bundles are stored once per content and the schema is versioned', async (t) => {
  const dir = t.testdir()
  const store = open(dir)
  const bundle = new TextEncoder().encode('export default 42')
  const a = store.submit(toNewJobs({ size: 1 }).parent, [], bundle)
  const b = store.submit(toNewJobs({ size: 1 }).parent, [], bundle)
  const sha = store.mustGet(a.jobId).bundleSha
  t.match(sha, /^[0-9a-f]{64}$/)
  t.equal(store.mustGet(b.jobId).bundleSha, sha)
  t.same(Buffer.from(store.bundle(sha!)!).toString(), 'export default 42')
  store.close()
  const db = new Database(join(dir, 'broker.db'), { readonly: true })
  t.teardown(() => { db.close() })
  t.equal(db.prepare('SELECT COUNT(*) FROM bundles').pluck().get(), 1)
  t.equal(db.pragma('user_version', { simple: true }), schemaVersion)
  t.equal(schemaVersion, 8, 'eight migrations: base schema, rank timings, checkpoints, poison counts + settings, job dependencies, rank accounting + end-time index, rank outputs, coordinated cuts')
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal')
  const plan = db.prepare("EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE state = 'queued' AND is_array = 0 ORDER BY priority DESC, seq LIMIT 10").all() as Array<{ detail: string }>
  t.match(plan.map((p) => p.detail).join('\n'), /USING INDEX jobs_queue/, 'queue order comes from the index, not a sort or scan')
  t.notMatch(plan.map((p) => p.detail).join('\n'), /TEMP B-TREE/)
})

t.test('bad requests name the field', async (t) => {
  t.throws(() => toNewJobs({ size: 0 }), { code: 'E_BAD_REQUEST', message: /request\.size: must be an integer/ })
  t.throws(() => toNewJobs({ size: 1, placement: { strategy: 'random' } }), { message: /request\.placement\.strategy/ })
  t.throws(() => toNewJobs({ size: 1, resources: { memoryMB: -1 } }), { message: /request\.resources\.memoryMB/ })
  t.throws(() => toNewJobs({ size: 1, children: [{}, { size: 'x' }] }), { message: /request\.children\[1\]\.size/ })
  t.throws(() => toNewJobs({ size: 1, placement: { nodes: ['a', 3] } }), { message: /request\.placement\.nodes\[1\]/ })
  t.throws(() => toNewJobs(null), { message: /^request: must be an object/ })
})

t.test('a store of schema 4 (before job dependencies) opens and is migrated; its jobs are kept', async (t) => {
  const dir = t.testdir()
  const store = open(dir)
  const { jobId } = store.submit(toNewJobs({ name: 'old', size: 1 }).parent, [])
  store.close()
  // what a broker of schema 4 left behind: no job_deps table, no name index, and none of
  // the accounting of schema 6, the outputs of schema 7 or the cuts of schema 8 either
  const db = new Database(join(dir, 'broker.db'))
  db.exec(`DROP TABLE cuts; DROP TABLE job_deps; DROP INDEX jobs_name; DROP INDEX jobs_ended;
    ALTER TABLE rank_results DROP COLUMN outputs;
    ALTER TABLE rank_results DROP COLUMN cpu_sec;
    ALTER TABLE rank_results DROP COLUMN max_rss_mb;
    ALTER TABLE rank_results DROP COLUMN exit_reason`)
  db.pragma('user_version = 4')
  db.close()
  const again = open(dir)
  t.teardown(() => { again.close() })
  t.equal(again.mustGet(jobId).name, 'old')
  const dep = again.submit(toNewJobs({ size: 1, dependsOn: [{ jobId, type: 'afterok' }] }).parent, [])
  t.same(again.dependents(jobId), [dep.jobId], 'dependencies are stored in the new table')
  t.equal(again.latestByName('old'), jobId)
})

t.test('an ended job is queued again only by an explicit rerun', async (t) => {
  const store = open(t.testdir())
  t.teardown(() => { store.close() })
  const { jobId } = store.submit(toNewJobs({ size: 1 }).parent, [])
  store.transition(jobId, 'cancelled', { reason: 'cancelled by bob' })
  t.throws(() => store.transition(jobId, 'queued'), { code: 'E_INVALID_STATE' })
  store.transition(jobId, 'queued', { rerun: true, reason: null, restarts: 0 })
  t.equal(store.mustGet(jobId).state, 'queued')
  t.equal(store.mustGet(jobId).endedAt, null)
  t.equal(store.queue.pop()?.id, jobId, 'back in the scheduler queue')
})

t.test('a newer schema is refused, not overwritten', async (t) => {
  const dir = t.testdir()
  open(dir).close()
  const db = new Database(join(dir, 'broker.db'))
  db.pragma('user_version = 99')
  db.close()
  t.throws(() => open(dir), { code: 'E_UNSUPPORTED_VERSION', message: /broker\.db.*99/ })
})

t.test('a job value is rank 0 output, else the single rank that returned one', async (t) => {
  const { jobValue } = await import('../src/result.js')
  t.equal(jobValue([{ rank: 0, exitCode: 0, output: 5 }, { rank: 1, exitCode: 0, output: 7 }]), 5)
  t.same(jobValue([{ rank: 0, exitCode: 0, output: null }, { rank: 3, exitCode: 0, output: { n: 1 } }]), { n: 1 })
  t.equal(jobValue([{ rank: 0, exitCode: 0 }, { rank: 1, exitCode: 0, output: 1 }, { rank: 2, exitCode: 0, output: 2 }]), null)
})
