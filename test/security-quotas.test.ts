// Per-user quotas and fair share between users, on a real lab of one peer with four slots:
// a submit over a quota is refused with E_QUOTA naming the limit; a job that would take its
// owner over `maxRunningRanks` waits with that reason while other users' jobs behind it start;
// and a user with a run of queued jobs does not keep another user's single job waiting.
import t from 'tap'
import { join } from 'node:path'
import { ROOT, runCli, startLab, submit, waitFor, type TestLab } from './lib/lab.js'

const WAITER = join(ROOT, 'test', 'fixtures', 'jobs', 'waiter.yaml')

const POLICY = `apiVersion: mvm/v1
kind: Policy
metadata:
  name: quotas
spec:
  level: domain
  scheduling:
    quotas:
      users:
        alice: { maxRunningRanks: 2, maxQueuedJobs: 3 }
`

t.test('quotas and fair share', async (t) => {
  const lab: TestLab = await startLab({ peers: 1, slots: 4 })
  const ids: string[] = []
  t.teardown(async () => {
    for (const jobId of ids) await lab.broker.CancelJob({ jobId }).catch(() => {})
    await lab.stop()
  })
  const sub = async (owner: string, params: Record<string, string> = {}): Promise<string> => {
    const { jobId } = await submit(lab.broker, WAITER, params, owner)
    ids.push(jobId)
    return jobId
  }
  const state = async (jobId: string): Promise<string> => (await lab.broker.GetJob({ jobId })).state
  const running = async (jobId: string): Promise<void> => { await waitFor(async () => await state(jobId) === 'running', 30_000, `job ${jobId} to run`) }
  const idle = async (): Promise<void> => {
    await waitFor(async () => (await lab.broker.ListNodes({})).nodes.filter((n) => n.roles.includes('peer')).every((n) => n.freeSlots === n.totalSlots), 30_000, 'the peer to be idle')
  }
  t.equal((await lab.broker.ApplyPolicy({ policyYaml: POLICY })).applied, true, 'the quota policy applies')
  const show = await runCli(['policy', 'show', '--bootstrap', lab.bootstrap])
  t.match(show.stdout, /^quotas {5}alice: 2 running ranks, 3 queued jobs; fair share on$/m, `mvm policy show lists the quotas\n${show.stderr}`)

  t.test('over quota: refused at submit, or waits and is passed over', async (t) => {
    await t.rejects(sub('alice', { processes: '3' }), { code: 'E_QUOTA', message: /3 ranks, over the quota of 2 running ranks for alice \(scheduling\.quotas\.maxRunningRanks\)/ },
      'a job larger than the running-ranks quota could never start: refused')
    const a1 = await sub('alice')
    const a2 = await sub('alice')
    await running(a1)
    await running(a2)
    const a3 = await sub('alice')
    const bob = await sub('bob')
    await running(bob)
    t.equal(await state(a3), 'queued', 'alice\'s third job waits though a slot is free')
    t.equal((await lab.broker.GetJob({ jobId: a3 })).waitReason, 'over quota: alice has 2 of 2 running ranks', 'GetJob says why')
    await sub('alice')
    await sub('alice')
    await t.rejects(sub('alice'), { code: 'E_QUOTA', message: /over quota: alice has 3 of 3 queued jobs \(scheduling\.quotas\.maxQueuedJobs\)/ },
      'a fourth queued job is refused')
    await sub('bob')
    t.pass('bob is not limited by alice\'s quota')
    await lab.broker.CancelJob({ jobId: a1 })
    await running(a3)
    t.pass('alice\'s waiting job starts once she is under her quota')
    for (const jobId of ids.splice(0)) await lab.broker.CancelJob({ jobId }).catch(() => {})
  })

  t.test('fair share: one user\'s run of jobs does not starve another\'s one', async (t) => {
    await idle()
    const blocker = await sub('erin', { processes: '4' })
    await running(blocker)
    const carol: string[] = []
    for (let i = 0; i < 6; i++) carol.push(await sub('carol'))
    const dave = await sub('dave')
    t.equal(await state(dave), 'queued', 'dave\'s job is queued behind six of carol\'s')
    // four slots free at once: without fair share carol's first four would take them
    await lab.broker.CancelJob({ jobId: blocker })
    await running(dave)
    const states = await Promise.all(carol.map(state))
    t.equal(states.filter((s) => s === 'queued').length, 3, `carol still has three queued when dave's runs (${states.join(', ')})`)
    t.equal(states.filter((s) => s === 'running' || s === 'scheduled').length, 3, 'and three started')
  })
})
