// Why a job waits, on a real lab of one peer with two slots: each wait reason comes from a real
// situation (slots taken by a running job, a higher-priority job ahead, labels no node has, more
// memory than a node has, a dependency, a user hold), as GetJob, `mvm status` and `mvm jobs`
// show it; then `mvm hold` / `mvm release` / `mvm requeue` move jobs between those states.
import t from 'tap'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { profileRequest } from '@mvm/cli'
import { createBrokerClient } from '@mvm/soap'
import { ROOT, runCli, startLab, submit, waitFor, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')
const WAITER = join(FIX, 'waiter.yaml')
const ROOM = join(FIX, 'waiter-room.yaml')
const SLOTS_TAKEN = 'needs 1 slot, group has 0 free of 2'

t.test('wait reasons, hold, release and requeue', async (t) => {
  const lab: TestLab = await startLab({ peers: 1, slots: 2 })
  const ids: string[] = []
  t.teardown(async () => {
    for (const jobId of ids) await lab.broker.CancelJob({ jobId }).catch(() => {})
    await lab.stop()
  })
  const cli = async (args: string[]): ReturnType<typeof runCli> => await runCli([...args, '--bootstrap', lab.bootstrap])
  const sub = async (file: string, params: Record<string, string> = {}): Promise<string> => {
    const { jobId } = await submit(lab.broker, file, params)
    ids.push(jobId)
    return jobId
  }
  const why = async (jobId: string): Promise<string | undefined> => (await lab.broker.GetJob({ jobId })).waitReason
  // a job for labels no node has is accepted (and waits) only when the policy says so
  const policyYaml = await readFile(join(ROOT, 'test', 'fixtures', 'policies', 'wait-for-capacity.yaml'), 'utf8')
  t.equal((await lab.broker.ApplyPolicy({ policyYaml })).applied, true)

  const big = await sub(WAITER, { processes: '2' })
  await waitFor(async () => (await lab.broker.GetJob({ jobId: big })).state === 'running', 30_000, 'the two-rank job to run')
  t.equal(await why(big), undefined, 'a running job has no wait reason')

  const low = await sub(WAITER)
  const high = await sub(WAITER, { priority: '5' })
  const room = await sub(ROOM)
  const mem = await sub(WAITER, { memoryMB: '4096' })
  const { request } = await profileRequest(WAITER, { owner: 'test' })
  const dep = (await lab.broker.SubmitJob({ ...request, dependsOn: [`afterok:${big}`] })).jobId
  ids.push(dep)

  t.equal(await why(high), SLOTS_TAKEN, 'not enough free slots')
  t.equal(await why(low), `${SLOTS_TAKEN}; behind 1 higher-priority job`, 'behind a higher-priority job')
  t.equal(await why(room), 'no node matches labels {room: b12}', 'no node with those labels')
  t.match(await why(mem), /^needs 4096 MB per rank, more than any node has free \(most: \d+ MB\); behind 1 higher-priority job$/, 'more memory than any node has')
  t.equal(await why(dep), `waiting on job ${big} (running) to succeed`, 'waiting on a dependency')

  const status = await cli(['status', low])
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, `waiting    ${SLOTS_TAKEN}; behind 1 higher-priority job`, 'mvm status shows the wait reason')
  const list = await cli(['jobs'])
  t.equal(list.code, 0, list.stderr)
  const header = list.stdout.split('\n')[0]!
  const reasonAt = header.indexOf('REASON')
  t.ok(reasonAt > 0, `mvm jobs has a REASON column: ${header}`)
  const row = (id: string): string => list.stdout.split('\n').find((l) => l.startsWith(id))?.slice(reasonAt) ?? ''
  t.equal(row(room), 'no node matches labels {room: b12}')
  t.equal(row(dep), `waiting on job ${big} (running) to succeed`)
  t.equal(row(big), '', 'nothing for the running job')

  // hold: a queued job only, and it says who held it
  const held = await runCli(['hold', low, '--bootstrap', lab.bootstrap, '--user', 'alice'])
  t.equal(held.code, 0, held.stderr)
  t.equal(held.stdout, `${low} held\n`)
  const heldInfo = await lab.broker.GetJob({ jobId: low })
  t.equal(heldInfo.state, 'held')
  t.equal(heldInfo.waitReason, 'held by alice', 'a user hold says who')
  t.equal((await lab.broker.HoldJob({ jobId: low })).state, 'held', 'holding a held job again is a no-op')
  const holdRunning = await cli(['hold', big])
  t.equal(holdRunning.code, 1, 'a running job cannot be held')
  t.match(holdRunning.stderr, `job ${big} is running; only a queued job can be held`)
  t.equal(await why(high), SLOTS_TAKEN, 'a held job is not counted ahead of anyone')

  const released = await cli(['release', low])
  t.equal(released.code, 0, released.stderr)
  t.equal(released.stdout, `${low} queued\n`, 'release works for a user hold')
  t.equal(await why(low), `${SLOTS_TAKEN}; behind 1 higher-priority job`)

  // requeue: a queued job cannot; a cancelled one is queued again as a fresh run
  const requeueQueued = await cli(['requeue', low])
  t.equal(requeueQueued.code, 1)
  t.match(requeueQueued.stderr, /is queued; only a scheduled, running or ended job can be requeued/)
  t.equal((await lab.broker.CancelJob({ jobId: mem })).state, 'cancelled')
  t.equal(await why(mem), undefined, 'an ended job has no wait reason')
  const again = await cli(['requeue', mem])
  t.equal(again.code, 0, again.stderr)
  t.equal(again.stdout, `${mem} queued\n`, 'a cancelled job is queued again')
  t.match(await why(mem), /^needs 4096 MB per rank/, 'and waits for the same reason as before')
  t.equal((await lab.broker.GetJob({ jobId: mem })).reason, undefined, 'the cancel reason is gone with the fresh run')

  // a running job is stopped and queued again: its two slots go to the jobs that waited
  const requeued = await cli(['requeue', big])
  t.equal(requeued.code, 0, requeued.stderr)
  t.equal(requeued.stdout, `${big} queued\n`)
  await waitFor(async () => {
    const [h, l] = await Promise.all([lab.broker.GetJob({ jobId: high }), lab.broker.GetJob({ jobId: low })])
    return h.state === 'running' && l.state === 'running'
  }, 30_000, 'the two one-rank jobs to take the freed slots')
  t.equal(await why(big), 'needs 2 slots, group has 0 free of 2', 'the requeued job waits for slots again')
  t.equal(await why(dep), `waiting on job ${big} (queued) to succeed`, 'its dependant still waits')

  // holding and requeueing take the rights cancelling does: one's own job, or job.cancel.any
  const owners = [
    'apiVersion: mvm/v1', 'kind: Policy', 'metadata: { name: owners }', 'spec:', '  level: domain',
    '  scheduling: { waitForCapacity: true }', '  security:', '    roles:',
    '      user: [job.submit, job.status, job.cancel.own]',
    '      ops: [job.submit, job.status, job.list, job.result, job.cancel.any, policy.read, policy.apply]',
    '    subjects:', '      alice: [user]', '      anonymous: [ops]', ''
  ].join('\n')
  t.equal((await lab.broker.ApplyPolicy({ policyYaml: owners, force: true })).applied, true)
  const alice = createBrokerClient(lab.bootstrap, { subject: 'alice' })
  await t.rejects(alice.HoldJob({ jobId: room }), { code: 'E_FORBIDDEN', message: /job\.cancel\.any/ }, 'another owner\'s job cannot be held')
  await t.rejects(alice.RequeueJob({ jobId: high }), { code: 'E_FORBIDDEN', message: /job\.cancel\.any/ }, 'nor requeued')
  const { jobId: hers } = await submit(lab.broker, WAITER, {}, 'alice')
  ids.push(hers)
  const own = await alice.HoldJob({ jobId: hers })
  t.equal(own.state, 'held', 'her own job she may hold')
  t.equal(own.waitReason, 'held by alice')
})
