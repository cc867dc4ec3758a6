import '@mvm/core/polyfill'
import t from 'tap'
import { join } from 'node:path'
import { createBrokerClient } from '@mvm/soap'
import { profileRequest } from '@mvm/cli'
import { downloadFile, uploadFile } from '@mvm/data'
import { readFile } from 'node:fs/promises'
import { ROOT, runCli, submit, waitJob } from './lib/lab.js'
import { hostStarter, waitFor } from './lib/nodes.js'

// Jobs between groups on a three-level lab: a top super-peer (group campus, no peers of its
// own) with two child groups, lab-a (one peer, 2 slots) and lab-b (one peer, 4 slots). A job
// a group refuses for capacity runs in a group that can take it, unless the policy forbids it.

const RING = join(ROOT, 'profiles', 'ring.yaml')
const SLEEPER = join(ROOT, 'test', 'fixtures', 'policies', 'bare-sleeper.yaml')
// no failure detection is tested here: a slow, loaded machine must not mark a peer down
const HB = { heartbeatMs: 200, missedHeartbeats: 10 }
const doc = (body: string): string => `apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: lab-a\nspec:\n  level: domain\n${body}`
/** The ring's answer: each of `laps` laps adds 0 + 1 + … + (n - 1). */
const token = (n: number, laps: number): number => laps * n * (n - 1) / 2

t.test('a job its group cannot place runs in another group', async (t) => {
  const dir = t.testdir({
    // two ranks that must run where gpu=yes: only lab-b's peer is labelled so
    'gpu.ts': `import { job } from '@mvm/job'\nexport default job(async (ctx) => await ctx.gather(ctx.rank * 10, 0))\n`,
    // three ranks (lab-a has 2 slots) reading a stored input: the group it runs in fetches it from lab-a
    'words.txt': 'one two three four\n',
    'read.ts': `import { writeFile } from 'node:fs/promises'\nimport { job } from '@mvm/job'\nexport default job(async (ctx) => {\n  const n = (await (await ctx.files.open('words.txt')).text()).split(' ').length\n` +
      `  await writeFile('out.txt', 'rank ' + ctx.rank + ' read ' + n + ' words')\n  return await ctx.gather(n * (ctx.rank + 1), 0)\n})\n`,
    'read.yaml': 'apiVersion: mvm/v1\nkind: JobProfile\nmetadata: { name: read }\nspec:\n  program: read.ts\n  topology: { shape: line, size: 3 }\n' +
      '  inputs: [words.txt]\n  outputs: [{ path: out.txt, ranks: all }]\n  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }\n',
    // three ranks sleeping long: what lab-b takes for a batch refused later is still running when withdrawn
    'wide.yaml': `apiVersion: mvm/v1\nkind: JobProfile\nmetadata: { name: wide }\nspec:\n  program: ${join(ROOT, 'test', 'fixtures', 'jobs', 'sleeper.ts')}\n` +
      `  topology: ${join(ROOT, 'topologies', 'ring.yaml')}\n  processes: 3\n  params: { ms: 60000, tag: wide }\n`,
    'gpu.yaml': 'apiVersion: mvm/v1\nkind: JobProfile\nmetadata: { name: gpu }\nspec:\n  program: gpu.ts\n  topology: { shape: line, size: 2 }\n' +
      '  placement: { labels: { gpu: "yes" } }\n  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }\n'
  })
  const start = hostStarter(t, dir, HB)
  const top = await start('top', { roles: ['bootstrap', 'super-peer'], group: 'campus' })
  const boot = [top.node.soapUrl]
  const childA = await start('child-a', { roles: ['super-peer'], group: 'lab-a', parentGroup: 'campus', bootstrap: boot })
  const childB = await start('child-b', { roles: ['super-peer'], group: 'lab-b', parentGroup: 'campus', bootstrap: boot })
  const peerA = await start('peer-a', { roles: ['peer'], group: 'lab-a', bootstrap: boot, capacity: { slots: 2 } })
  const peerB = await start('peer-b', { roles: ['peer'], group: 'lab-b', bootstrap: boot, capacity: { slots: 4 }, labels: { gpu: 'yes' } })
  await waitFor('both child super-peers joined the top', () => childA.node.parentLink()?.state === 'joined' && childB.node.parentLink()?.state === 'joined')
  await waitFor('both peers joined their groups', () => peerA.node.link()?.superPeerId === childA.node.peerId && peerB.node.link()?.superPeerId === childB.node.peerId)
  const brokerA = createBrokerClient(childA.node.soapUrl)
  const brokerB = createBrokerClient(childB.node.soapUrl)
  const brokerTop = createBrokerClient(top.node.soapUrl)
  await waitFor('both peers are up in their brokers\' views', async () =>
    (await brokerA.ListNodes({})).nodes.some((n) => n.peerId === peerA.node.peerId && n.state === 'up') &&
    (await brokerB.ListNodes({})).nodes.some((n) => n.peerId === peerB.node.peerId && n.state === 'up'))

  t.test('too big for lab-a (2 slots): runs in lab-b, followed from lab-a, with the right answer', async (t) => {
    const { jobId } = await submit(brokerA, RING, { processes: '3', laps: '2' })
    const { info, result } = await waitJob(brokerA, jobId, 90_000)
    t.equal(info.state, 'succeeded', `GetJob at lab-a follows the job to its end (${info.reason ?? ''})`)
    t.equal(info.group, 'lab-b', 'the record at lab-a says where it went')
    t.same(new Set(info.placement.map((p) => p.peerId)), new Set([peerB.node.peerId]), 'every rank ran on lab-b\'s peer')
    t.same(JSON.parse(result.resultJson ?? 'null'), { token: token(3, 2), laps: 2, size: 3 }, 'the result, fetched at lab-a')
    const there = await brokerB.GetJob({ jobId })
    t.equal(there.state, 'succeeded', 'lab-b\'s broker ran it as its own job')
    t.equal(there.group, undefined)
    t.throws(() => childA.superPeer!.agent.broker.get(jobId), 'lab-a\'s broker stored no job of its own for it')
    const cli = await runCli(['status', jobId.slice(0, 12), '--broker', childA.node.soapUrl], 30_000)
    t.equal(cli.code, 0, cli.stderr)
    t.match(cli.stdout, /group\s+lab-b \(passed on/, 'mvm status at lab-a, by a prefix, names the group')
    t.match(cli.stdout, /state\s+succeeded/)
    const logs = await brokerA.GetJobLogs({ jobId })
    t.same(logs.logs.map((l) => l.rank).sort(), [0, 1, 2], 'GetJobLogs at lab-a reads every rank\'s log where it ran')
    t.ok(logs.logs.every((l) => l.peerId === peerB.node.peerId && l.error === undefined), 'from lab-b\'s peer')
  })

  t.test('no peer of lab-a matches the placement labels: runs in lab-b, whose peer does', async (t) => {
    const { jobId } = await submit(brokerA, join(dir, 'gpu.yaml'))
    const { info, result } = await waitJob(brokerA, jobId, 90_000)
    t.equal(info.state, 'succeeded')
    t.equal(info.group, 'lab-b')
    t.same(JSON.parse(result.resultJson ?? 'null'), [0, 10], 'both ranks\' answers gathered')
  })

  t.test('submitted at the top, which has no peers: runs in a child group', async (t) => {
    const { jobId } = await submit(brokerTop, RING, { processes: '4', laps: '1' })
    const { info, result } = await waitJob(brokerTop, jobId, 90_000)
    t.equal(info.state, 'succeeded')
    t.equal(info.group, 'lab-b', 'the only child group with 4 slots')
    t.same(JSON.parse(result.resultJson ?? 'null'), { token: token(4, 1), laps: 1, size: 4 })
  })

  t.test('ListJobs and mvm jobs at lab-a list the jobs it passed on, with their group and state', async (t) => {
    const { jobs } = await brokerA.ListJobs({})
    const away = jobs.filter((j) => j.group !== undefined)
    t.ok(away.length >= 2, `the two jobs passed on so far are listed at lab-a (${away.length})`)
    t.ok(away.every((j) => j.group === 'lab-b' && j.state === 'succeeded'), 'each with where it ran and its state there')
    t.same((await brokerA.ListJobs({ state: 'queued' })).jobs.filter((j) => j.group !== undefined), [], 'a state filter applies to them too')
    const cli = await runCli(['jobs', '--broker', childA.node.soapUrl], 30_000)
    t.equal(cli.code, 0, cli.stderr)
    t.match(cli.stdout, /JOB\s+NAME\s+STATE\s+GROUP/, 'mvm jobs shows a GROUP column')
    t.match(cli.stdout, new RegExp(`${away[0]!.jobId}\\s+\\S+\\s+succeeded\\s+lab-b`))
  })

  t.test('SubmitJobs at lab-a: the submission lab-a cannot run is passed on, the other stays', async (t) => {
    const small = (await profileRequest(RING, { params: { processes: '2', laps: '1' }, owner: 'test' })).request
    const big = (await profileRequest(RING, { params: { processes: '3', laps: '1' }, owner: 'test' })).request
    const { submitted } = await brokerA.SubmitJobs({ jobs: [small, big] }, { timeoutMs: 60_000 })
    t.equal(submitted.length, 2)
    const [a, b] = await Promise.all(submitted.map(async (s) => await waitJob(brokerA, s.jobId, 90_000)))
    t.equal(a!.info.state, 'succeeded')
    t.equal(a!.info.group, undefined, 'the 2-rank job ran in lab-a')
    t.equal(b!.info.state, 'succeeded')
    t.equal(b!.info.group, 'lab-b', 'the 3-rank job ran in lab-b')
    t.same(JSON.parse(b!.result.resultJson ?? 'null'), { token: token(3, 1), laps: 1, size: 3 })
    // all or nothing: a batch with one submission no group can run is refused whole
    const huge = (await profileRequest(RING, { params: { processes: '9', laps: '1' }, owner: 'test' })).request
    const before = (await brokerA.ListJobs({})).jobs.length
    const cancelledAtB = (await brokerB.ListJobs({ state: 'cancelled' })).jobs.length
    const wide = (await profileRequest(join(dir, 'wide.yaml'), { owner: 'test' })).request
    await t.rejects(brokerA.SubmitJobs({ jobs: [small, wide, huge] }, { timeoutMs: 60_000 }), { code: 'E_CAPACITY', message: /^jobs\[2\]: .*needs 9 slots/ })
    t.equal((await brokerA.ListJobs({})).jobs.length, before, 'nothing of the refused batch is listed at lab-a')
    t.equal((await brokerB.ListJobs({ state: 'cancelled' })).jobs.length, cancelledAtB + 1, 'the 3-rank job lab-b took for the refused batch was cancelled there (withdrawn)')
  })

  t.test('a job with a stored input runs in lab-b, which fetches the input from lab-a', async (t) => {
    // as `mvm submit` does: the input uploaded to lab-a's store, named in the submission
    const up = await uploadFile(childA.node.soapUrl, join(dir, 'words.txt'), { name: 'words.txt' })
    const { request } = await profileRequest(join(dir, 'read.yaml'), { owner: 'test' })
    const { jobId } = await brokerA.SubmitJob({ ...request, inputs: [{ name: 'words.txt', id: up.id }] }, { timeoutMs: 60_000 })
    const { info, result } = await waitJob(brokerA, jobId, 90_000)
    t.equal(info.state, 'succeeded', info.reason ?? '')
    t.equal(info.group, 'lab-b')
    t.same(JSON.parse(result.resultJson ?? 'null'), [4, 8, 12], 'every rank read the four words')
    // its outputs, stored where it ran, are downloaded from lab-a as for a job of lab-a's own
    t.same((result.outputs ?? []).map((o) => o.rank).sort(), [0, 1, 2], 'every rank\'s output listed at lab-a')
    const o1 = result.outputs!.find((o) => o.rank === 1)!
    await downloadFile(childA.node.soapUrl, o1.id, join(dir, 'out-1.txt'))
    t.equal(await readFile(join(dir, 'out-1.txt'), 'utf8'), 'rank 1 read 4 words', 'rank 1\'s output, from lab-a\'s store')
    const stored = await brokerB.ListData({})
    t.ok(stored.files.some((f) => f.size === 'one two three four\n'.length), 'the input is in lab-b\'s store now')
  })

  t.test('a job too big for lab-a that depends on another waits there for it, then runs in lab-b', async (t) => {
    const first = await submit(brokerA, RING, { processes: '2', laps: '1' })
    const { request } = await profileRequest(RING, { params: { processes: '3', laps: '2' }, owner: 'test' })
    const { jobId } = await brokerA.SubmitJob({ ...request, dependsOn: [`afterok:${first.jobId}`] }, { timeoutMs: 60_000 })
    const { info, result } = await waitJob(brokerA, jobId, 90_000)
    t.equal(info.state, 'succeeded', info.reason ?? '')
    t.equal(info.group, 'lab-b', 'passed on once its dependency was done')
    t.equal(info.jobId, jobId, 'known at lab-a by the id lab-a gave it')
    t.same(JSON.parse(result.resultJson ?? 'null'), { token: token(3, 2), laps: 2, size: 3 })
    t.equal((await brokerA.GetJob({ jobId: first.jobId })).state, 'succeeded', 'its dependency ran in lab-a')
    const listed = (await brokerA.ListJobs({})).jobs.filter((j) => j.jobId === jobId)
    t.same(listed.map((j) => [j.group, j.state]), [['lab-b', 'succeeded']], 'listed once at lab-a, where it ran')
    const logs = await brokerA.GetJobLogs({ jobId })
    t.same(logs.logs.map((l) => l.rank).sort(), [0, 1, 2], 'its logs read at lab-a')
  })

  t.test('too big for every group: refused, naming what each group said', async (t) => {
    await t.rejects(submit(brokerA, RING, { processes: '9', laps: '1' }), { code: 'E_CAPACITY', message: /needs 9 slots; group 'lab-a' has 2 slots.*no other group took it \(.*lab-b: .*needs 9 slots/ })
  })

  t.test('scheduling.crossGroup: forbid keeps the job in its group: refused as before', async (t) => {
    const applied = await brokerA.ApplyPolicy({ policyYaml: doc('  scheduling: { crossGroup: forbid }\n') }, { timeoutMs: 10_000 })
    t.equal(applied.applied, true)
    const before = (await brokerB.ListJobs({})).jobs.length
    await t.rejects(submit(brokerA, RING, { processes: '3', laps: '1' }), { code: 'E_CAPACITY', message: /needs 3 slots.*scheduling\.crossGroup: forbid keeps it in group 'lab-a'/ })
    t.equal((await brokerB.ListJobs({})).jobs.length, before, 'lab-b got no job')
    await brokerA.ApplyPolicy({ policyYaml: doc('  scheduling: { crossGroup: allow }\n') }, { timeoutMs: 10_000 })
    const { jobId } = await submit(brokerA, RING, { processes: '3', laps: '1' })
    t.equal((await waitJob(brokerA, jobId, 90_000)).info.group, 'lab-b', 'allowed again: passed on')
  })
  t.test('scheduling.crossGroupAfterSec: a job queued longer than that in a full lab-a runs in lab-b', async (t) => {
    await brokerA.ApplyPolicy({ policyYaml: doc('  scheduling: { crossGroup: allow, crossGroupAfterSec: 1 }\n') }, { timeoutMs: 10_000 })
    const long = await submit(brokerA, SLEEPER, { ms: '60000' })
    await waitFor('the long job fills lab-a', async () => (await brokerA.GetJob({ jobId: long.jobId })).state === 'running', { timeoutMs: 30_000 })
    const { jobId } = await submit(brokerA, SLEEPER, { ms: '10' })
    const { info } = await waitJob(brokerA, jobId, 90_000)
    t.equal(info.state, 'succeeded', info.reason ?? '')
    t.equal(info.group, 'lab-b', 'it went to lab-b instead of waiting for lab-a\'s slots')
    t.equal((await brokerA.GetJob({ jobId: long.jobId })).state, 'running', 'while the long job still held lab-a')
    await brokerA.CancelJob({ jobId: long.jobId })
  })
})
