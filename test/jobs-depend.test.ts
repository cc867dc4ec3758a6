// Job dependencies on a real lab of one peer with two slots: `mvm submit --depends-on` and a
// profile's spec.dependsOn (by job id or by job name) hold a job queued with its wait reason until
// the job it depends on ends; one that can never be met cancels it, saying which dependency; an
// unknown job is refused at submit, naming the field; and the wait survives a broker restart.
import t from 'tap'
import { join } from 'node:path'
import { ROOT, runCli, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')
const WAITER = join(FIX, 'waiter.yaml')
const AFTER = join(FIX, 'after.yaml')
const THROWER = join(FIX, 'thrower.yaml')

t.test('dependencies: afterok, afternotok, afterany, never met, unknown, across a restart', async (t) => {
  const lab: TestLab = await startLab({ peers: 1, slots: 2 })
  const ids: string[] = []
  t.teardown(async () => {
    for (const jobId of ids) await lab.broker.CancelJob({ jobId }).catch(() => {})
    await lab.stop()
  })
  const sub = async (file: string, params: Record<string, string> = {}): Promise<string> => {
    const { jobId } = await submit(lab.broker, file, params)
    ids.push(jobId)
    return jobId
  }
  const get = async (jobId: string): ReturnType<typeof lab.broker.GetJob> => await lab.broker.GetJob({ jobId })

  await t.test('afterok: B runs only once A succeeded (mvm submit --depends-on)', async (t) => {
    // long enough that A is still running when the CLI (a cold process) has submitted B
    const a = await sub(WAITER, { ms: '3000' })
    const r = await runCli(['submit', WAITER, '--param', 'ms=100', '--depends-on', `afterok:${a}`, '--bootstrap', lab.bootstrap])
    t.equal(r.code, 0, r.stderr)
    const b = r.stdout.trim()
    ids.push(b)
    const waiting = await get(b)
    t.equal(waiting.state, 'queued', 'a free slot is there, but B waits')
    t.match(waiting.waitReason, new RegExp(`^waiting on job ${a} \\((queued|scheduled|running)\\) to succeed$`))
    const done = await waitJob(lab.broker, b, 30_000)
    t.equal(done.info.state, 'succeeded')
    const aInfo = await get(a)
    t.equal(aInfo.state, 'succeeded')
    t.ok(Date.parse(done.info.startedAt!) >= Date.parse(aInfo.finishedAt!), 'B started after A finished')
    // the same dependency on a job that already succeeded is met at once
    const c = await sub(AFTER, { after: a })
    t.equal((await waitJob(lab.broker, c, 30_000)).info.state, 'succeeded', 'a dependency met before submit')
  })

  await t.test('afternotok on a job that succeeds: cancelled with the reason', async (t) => {
    const d = await sub(WAITER, { ms: '800' })
    const e = await sub(AFTER, { after: d, type: 'afternotok' })
    t.equal((await get(e)).waitReason?.startsWith(`waiting on job ${d} `), true)
    t.match((await get(e)).waitReason, /to fail$/)
    const end = await waitJob(lab.broker, e, 30_000)
    t.equal((await get(d)).state, 'succeeded')
    t.equal(end.info.state, 'cancelled')
    t.equal(end.info.reason, `dependency ${d} succeeded (afternotok)`)
    // decided at submit when the dependency already ended
    const f = await sub(AFTER, { after: d, type: 'afternotok' })
    const now = await get(f)
    t.equal(now.state, 'cancelled', 'never satisfiable at submit: cancelled at once')
    t.equal(now.reason, `dependency ${d} succeeded (afternotok)`)
  })

  await t.test('afterany runs after a failure, by job name; afterok of it is cancelled, and so on down the chain', async (t) => {
    // the lab's 2 slots are busy for 3 s, so `bad` is still queued when the reasons are read
    // (a thrower fails within a second once it runs)
    const blocker = await sub(join(FIX, 'sleeper.yaml'), { processes: '2', ms: '3000' })
    await waitFor(async () => (await get(blocker)).state === 'running', 30_000, 'the blocker to run')
    const bad = await sub(THROWER, { processes: '2' })
    // by name: the latest job called "thrower" is the one just submitted
    const any = await sub(AFTER, { after: 'thrower', type: 'afterany' })
    const ok = await sub(AFTER, { after: bad })
    const chained = await sub(AFTER, { after: ok })
    t.match((await get(any)).waitReason, `waiting on job ${bad} `)
    t.match((await get(chained)).waitReason, `waiting on job ${ok} (queued) to succeed`)
    t.equal((await waitJob(lab.broker, bad, 30_000)).info.state, 'failed')
    t.equal((await waitJob(lab.broker, any, 30_000)).info.state, 'succeeded', 'afterany: runs after the failure')
    const okEnd = await get(ok)
    t.equal(okEnd.state, 'cancelled')
    t.equal(okEnd.reason, `dependency ${bad} failed (afterok)`)
    const chainEnd = await get(chained)
    t.equal(chainEnd.state, 'cancelled')
    t.equal(chainEnd.reason, `dependency ${ok} cancelled (afterok)`, 'nothing down the chain waits forever')
  })

  await t.test('an unknown job is refused at submit, naming the field', async (t) => {
    const before = (await lab.broker.ListJobs({ limit: 1000 })).jobs.length
    await t.rejects(submit(lab.broker, AFTER, { after: 'j-nope' }), { code: 'E_BAD_REQUEST', message: /request\.dependsOn\[0\]\.job: no job "j-nope" to depend on/ })
    const r = await runCli(['submit', WAITER, '--depends-on', 'afterwards:j-1', '--bootstrap', lab.bootstrap])
    t.equal(r.code, 1)
    t.match(r.stderr, /request\.dependsOn\[0\].*TYPE:JOB/, 'a bad --depends-on says the form')
    t.equal((await lab.broker.ListJobs({ limit: 1000 })).jobs.length, before, 'nothing was stored')
  })

  await t.test('a dependency survives a broker restart', async (t) => {
    const long = await sub(WAITER)
    const after = await sub(AFTER, { after: long })
    await waitFor(async () => (await get(long)).state === 'running', 30_000, 'the long job to run')
    await lab.restartSuperPeer()
    await waitFor(async () => (await lab.broker.ListNodes({})).nodes.some((n) => n.state === 'up' && n.roles.includes('peer')), 30_000, 'the peer to rejoin')
    const still = await get(after)
    t.equal(still.state, 'queued', 'still waiting after the restart')
    t.match(still.waitReason, `waiting on job ${long} `)
    t.equal((await lab.broker.CancelJob({ jobId: long })).state, 'cancelled')
    const end = await get(after)
    t.equal(end.state, 'cancelled')
    t.equal(end.reason, `dependency ${long} cancelled (afterok)`)
  })
})
