// `mvm history` (sacct): finished jobs with per-rank accounting, filters, kept across a broker
// restart, and forgotten past the policy's accounting.retentionDays.
import t from 'tap'
import { join } from 'node:path'
import type { JobAccounting } from '@mvm/soap'
import { ROOT, runCli, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'

const PRIMES = join(ROOT, 'profiles', 'primes.yaml')
const THROWER = join(ROOT, 'test', 'fixtures', 'jobs', 'thrower.yaml')
const SLEEPER = join(ROOT, 'test', 'fixtures', 'jobs', 'sleeper.yaml')

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 1, slots: 4 }) })
t.teardown(async () => { await lab?.stop() })

async function history (...args: string[]): Promise<JobAccounting[]> {
  const r = await runCli(['history', '--broker', lab.bootstrap, '--json', ...args], 30_000)
  if (r.code !== 0) throw new Error(`mvm history ${args.join(' ')}: exit ${String(r.code)}: ${r.stderr}`)
  return JSON.parse(r.stdout) as JobAccounting[]
}

t.test('finished jobs with what each rank cost; filters by owner, state, time; kept across a restart; pruned by retention', async (t) => {
  const ok = await submit(lab.broker, PRIMES, { processes: '2', n: '300000' }, 'alice')
  t.equal((await waitJob(lab.broker, ok.jobId)).info.state, 'succeeded')
  const bad = await submit(lab.broker, THROWER, { processes: '2' }, 'bob')
  t.equal((await waitJob(lab.broker, bad.jobId)).info.state, 'failed')
  const sleeping = await submit(lab.broker, SLEEPER, { processes: '2', ms: '60000' }, 'alice')
  await waitFor(async () => (await lab.broker.GetJob({ jobId: sleeping.jobId })).state === 'running', 30_000, 'the sleeper to run')

  const all = await history()
  t.same(all.map((j) => j.jobId).sort(), [ok.jobId, bad.jobId].sort(), 'the two finished jobs, not the running one')
  t.equal(all[0]!.jobId, bad.jobId, 'newest end first')
  const a = all.find((j) => j.jobId === ok.jobId)!
  t.equal(a.state, 'succeeded'); t.equal(a.owner, 'alice'); t.equal(a.name, 'primes'); t.equal(a.size, 2)
  t.equal(a.ranks.length, 2, 'one accounting line per rank')
  const peerId = lab.peers[0]!.ready.peerId
  for (const r of a.ranks) {
    t.equal(r.peerId, peerId, `rank ${r.rank} ran on the peer`)
    t.equal(r.exitReason, 'exit', `rank ${r.rank} ended by exiting`)
    t.ok((r.cpuSec ?? 0) > 0, `rank ${r.rank} used CPU (${String(r.cpuSec)} s)`)
    t.ok((r.maxRssMB ?? 0) > 10, `rank ${r.rank} peak RSS is a Node process's (${String(r.maxRssMB)} MB)`)
  }
  t.ok(a.cpuSec >= (a.ranks[0]!.cpuSec ?? 0) && a.cpuSec > 0, 'the job\'s CPU is the ranks\' sum')
  t.ok(a.wallSec > 0 && a.queuedSec >= 0, `wall ${a.wallSec} s, waited ${a.queuedSec} s`)
  const rankWall = Math.max(...a.ranks.map((r) => (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000))
  t.ok(a.wallSec >= rankWall - 0.001, `the job's wall time spans its ranks' (${a.wallSec} >= ${rankWall})`)
  const b = all.find((j) => j.jobId === bad.jobId)!
  t.equal(b.state, 'failed'); t.match(b.reason ?? '', /\S/, 'the failure reason')
  t.ok(b.ranks.some((r) => r.exitCode !== 0 && r.error !== undefined), 'the rank that threw, with its error')

  t.same((await history('--owner', 'alice')).map((j) => j.jobId), [ok.jobId], '--owner')
  t.same((await history('--mine', '--user', 'bob')).map((j) => j.jobId), [bad.jobId], '--mine acts for --user')
  t.same((await history('--state', 'failed')).map((j) => j.jobId), [bad.jobId], '--state')
  t.same((await history('--name', 'primes')).map((j) => j.jobId), [ok.jobId], '--name')
  t.equal((await history('--since', '1h')).length, 2, '--since an age')
  t.equal((await history('--until', '2020-01-01')).length, 0, '--until a date before both')
  const wrong = await runCli(['history', '--broker', lab.bootstrap, '--since', 'yesterday-ish'], 30_000)
  t.equal(wrong.code, 1, 'a bad --since fails before asking the broker')
  t.match(wrong.stderr, /--since: "yesterday-ish" is neither a date/, 'naming the flag and what it takes')

  const table = await runCli(['history', '--broker', lab.bootstrap, '--ranks'], 30_000)
  t.equal(table.code, 0)
  t.match(table.stdout, /^JOB\s+NAME\s+STATE\s+NODE\s+ENDED BY\s+WALL\s+CPU\s+MAXRSS/, 'the per-rank table\'s header')
  t.match(table.stdout, /\.1\s+exit 0\s+peer1 \(\S+\)\s+exit\s/, 'a rank line: exit code, node, how it ended')

  const result = await lab.broker.GetJobResult({ jobId: ok.jobId })
  t.ok(result.ranks.every((r) => (r.cpuSec ?? 0) > 0 && r.exitReason === 'exit'), 'GetJobResult carries the same accounting')

  await lab.broker.CancelJob({ jobId: sleeping.jobId })
  await lab.restartSuperPeer('SIGKILL')
  await waitFor(async () => (await lab.broker.ListNodes({})).nodes.some((n) => n.state === 'up' && n.roles.includes('peer')), 30_000, 'the peer to rejoin')
  const after = await history()
  t.same(after.map((j) => j.jobId).sort(), [ok.jobId, bad.jobId, sleeping.jobId].sort(), 'after a SIGKILL of the broker: every finished job, the cancelled one too')
  t.same(after.find((j) => j.jobId === ok.jobId)?.ranks.map((r) => r.cpuSec), a.ranks.map((r) => r.cpuSec), 'with the same accounting')

  // 0.00002 days is 1.7 s: everything above is older than that once the broker starts again
  const policy = 'apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: short-history }\nspec:\n  level: domain\n  accounting: { retentionDays: 0.00002 }\n'
  t.equal((await lab.broker.ApplyPolicy({ policyYaml: policy })).applied, true, 'retention applied at run time')
  await new Promise((resolve) => setTimeout(resolve, 2000))
  await lab.restartSuperPeer('SIGTERM')
  await waitFor(async () => (await history()).length === 0, 20_000, 'jobs past retention to be forgotten')
  await t.rejects(lab.broker.GetJob({ jobId: ok.jobId }), { message: /no job/ }, 'a pruned job is gone from the store, not only from history')
})
