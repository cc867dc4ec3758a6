// Checkpoints outlive a node: on a real lab (3 peers × 2 slots) with `recovery: restart`, a 2-rank job
// that checkpoints every step loses the peer running rank 0 to SIGKILL. The broker restarts it on the
// peers left, and each rank resumes from the last checkpoint it shipped (ctx.restored). With
// `recovery: requeue` (applied at run time) the same loss reruns the job from scratch.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { highestStep } from './lib/oracles.js'
import { ROOT, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'checkpoint')
const COUNTER = join(FIX, 'counter.yaml')
const N = 40

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 3, slots: 2, superArgs: ['--policy', join(FIX, 'restart-policy.yaml')] }) })
t.teardown(async () => { await lab?.stop() })

const stepOf = async (tag: string, rank: number): Promise<number> => await highestStep(lab.dir, tag, rank)

interface Outcome { resumedFrom: number, done: number, pid: number }

/** Runs the counter until rank 0 passed step 8, SIGKILLs rank 0's peer, and returns the job's end. */
async function killMidway (t: Test): Promise<{ killed: string, state: string, reason: string, ranks: Array<{ peerId: string, out: Outcome }> }> {
  const tag = randomUUID()
  const { jobId } = await submit(lab.broker, COUNTER, { processes: '2', n: String(N), ms: '100', tag })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await waitFor(async () => await stepOf(tag, 0) >= 8, 60_000, 'rank 0 to pass step 8')
  // the broker learns "running" from the peers' rank reports, which can trail the ranks' own progress on a loaded machine
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state !== 'scheduled', 30_000, 'the broker to see the ranks running')
  const info = await lab.broker.GetJob({ jobId })
  t.equal(info.state, 'running', 'the job runs')
  const killed = info.placement.find((p) => p.rank === 0)!.peerId
  const victim = lab.peers.find((p) => p.ready.peerId === killed)
  if (victim === undefined) throw new Error(`rank 0 runs on ${killed}, which is not a lab peer`)
  t.ok(victim.child.exitCode === null && victim.child.signalCode === null, `rank 0's peer ${victim.name} is alive before the kill`)
  victim.child.kill('SIGKILL')
  const { info: end, result } = await waitJob(lab.broker, jobId, 90_000)
  const ranks = result.ranks.map((r) => ({ peerId: r.peerId, out: JSON.parse(r.resultJson ?? '{}') as Outcome }))
  return { killed, state: end.state, reason: end.reason ?? '', ranks }
}

t.test('recovery: restart — the rank resumes on another peer from its last checkpoint', async (t) => {
  const r = await killMidway(t)
  t.equal(r.state, 'succeeded', `the job succeeds after the node loss: ${r.reason}`)
  t.equal(r.ranks.length, 2, 'both ranks report')
  for (const [rank, x] of r.ranks.entries()) {
    t.not(x.peerId, r.killed, `rank ${rank} ended on a live peer`)
    t.equal(x.out.done, N, `rank ${rank} counted to ${N}`)
  }
  for (const [rank, x] of r.ranks.entries()) {
    const from = x.out.resumedFrom
    t.ok(from >= 1 && from <= N, `rank ${rank} resumed from its shipped checkpoint (i = ${from}), not from 0`)
  }
})

t.test('recovery: requeue — the rerun starts from scratch', async (t) => {
  const applied = await lab.broker.ApplyPolicy({
    policyYaml: 'apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: checkpoint-requeue\nspec:\n  level: domain\n  faultTolerance:\n    recovery: requeue\n    maxRestarts: 2\n'
  })
  t.ok(applied, 'requeue policy applied')
  const r = await killMidway(t)
  t.equal(r.state, 'succeeded', `the job succeeds after the node loss: ${r.reason}`)
  t.equal(r.ranks.length, 2, 'both ranks report')
  for (const [rank, x] of r.ranks.entries()) {
    t.not(x.peerId, r.killed, `rank ${rank} ended on a live peer`)
    t.equal(x.out.resumedFrom, 0, `rank ${rank} started again from 0`)
    t.equal(x.out.done, N, `rank ${rank} counted to ${N}`)
  }
})
