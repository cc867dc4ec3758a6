// Coordinated checkpoints (`checkpoint: { mode: coordinated }`): a 4-rank token ring keeps three
// tokens in flight on every link and folds what it receives into an order-sensitive hash. On a
// real lab (3 peers × 2 slots, `recovery: restart`) the peer of one rank is SIGKILLed mid-run;
// every rank restarts from the last complete cut with the tokens that were in flight put back on
// its ports, so each rank's hash equals a serial run's: no token lost, none delivered twice.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { ROOT, runCli, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'
import { highestStep, tokenRingSerial } from './lib/oracles.js'

const FIX = join(ROOT, 'test', 'fixtures', 'cut')
const TOKENS = join(FIX, 'tokens.yaml')
const R = 4
const N = 60
const W = 3

interface Outcome { acc: number, count: number, resumedFrom: number }


let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 3, slots: 2, superArgs: ['--policy', join(FIX, 'restart-policy.yaml')] }) })
t.teardown(async () => { await lab?.stop() })

const stepOf = async (tag: string, rank: number): Promise<number> => await highestStep(lab.dir, tag, rank)

const expected = tokenRingSerial(R, N, W)

t.test('the serial oracle moves every token', async (t) => {
  t.same(expected.map((e) => e.count), Array(R).fill(N), 'each rank takes n tokens')
})

/** Runs the ring, calls `between` once rank 0 passed `at`, SIGKILLs rank 1's peer once rank 0 passed `kill`, and checks the end. */
async function killMidway (t: Test, o: { interval: number, kill: number | (() => number), at?: number, between?: (jobId: string, tag: string) => Promise<void> }): Promise<number> {
  const tag = randomUUID()
  const { jobId } = await submit(lab.broker, TOKENS, { processes: String(R), n: String(N), w: String(W), interval: String(o.interval), tag })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  if (o.between !== undefined) {
    await waitFor(async () => await stepOf(tag, 0) >= (o.at ?? 0), 60_000, `rank 0 to pass step ${o.at ?? 0}`)
    await o.between(jobId, tag)
  }
  const kill = typeof o.kill === 'number' ? o.kill : o.kill()
  await waitFor(async () => await stepOf(tag, 0) >= kill, 60_000, `rank 0 to pass step ${kill}`)
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state !== 'scheduled', 30_000, 'the broker to see the ranks running')
  const info = await lab.broker.GetJob({ jobId })
  const killed = info.placement.find((p) => p.rank === 1)!.peerId
  const victim = lab.peers.find((p) => p.ready.peerId === killed)
  if (victim === undefined) throw new Error(`rank 1 runs on ${killed}, which is not a lab peer`)
  victim.child.kill('SIGKILL')
  const { info: end, result } = await waitJob(lab.broker, jobId, 90_000)
  t.equal(end.state, 'succeeded', `the job succeeds after the node loss: ${end.reason ?? ''}`)
  const outs = result.ranks.map((r) => ({ rank: r.rank, peerId: r.peerId, out: JSON.parse(r.resultJson ?? '{}') as Outcome }))
  t.equal(outs.length, R, 'every rank reports')
  const from = outs[0]!.out.resumedFrom
  for (const x of outs) {
    t.not(x.peerId, killed, `rank ${x.rank} ended on a live peer`)
    t.same({ acc: x.out.acc, count: x.out.count }, expected[x.rank], `rank ${x.rank}: the hash of what it received equals the serial run's`)
    t.equal(x.out.resumedFrom, from, `rank ${x.rank} resumed from the same cut (step ${from})`)
  }
  // a restored rank sends no tokens of its own: only the cut's channel state keeps the ring going
  t.ok(from > 0 && from < N, `the ranks resumed from a cut (step ${from}), not from scratch`)
  return from
}

t.test('kill -9 mid-run: every rank resumes from the last complete cut (intervalSec), tokens in flight included', async (t) => {
  await killMidway(t, { interval: 0.2, kill: 25 })
})

t.test('CheckpointJob (mvm checkpoint) takes a cut on demand; the restart resumes from it', async (t) => {
  // the first subtest took a peer down: a fresh one keeps room for 4 ranks after the next kill
  await lab.addPeer()
  await waitFor(async () => (await lab.broker.ListNodes({})).nodes.filter((x) => x.state === 'up' && x.roles.includes('peer')).length >= 3, 30_000, 'a third live peer')
  let asked = 0
  let answered = 0
  let jobId = ''
  // no timed cut within the run: the only cut is the one asked for
  const from = await killMidway(t, {
    interval: 3600,
    at: 8,
    kill: () => answered + 12,
    between: async (id, tag) => {
      jobId = id
      asked = await stepOf(tag, 0)
      const info = await lab.broker.CheckpointJob({ jobId: id })
      t.equal(info.state, 'running', 'CheckpointJob answers with the running job')
      answered = await stepOf(tag, 0)
    }
  })
  // the cut is taken R - 1 points after the first point rank 0 passes once asked
  t.ok(from >= asked && from <= answered + R + 1, `resumed from the cut asked for (step ${from}; asked at ${asked}, answered at ${answered})`)
  const bad = await runCli(['checkpoint', jobId, '--broker', lab.superPeer.ready.soapUrl])
  t.equal(bad.code, 1, 'mvm checkpoint of a job that is no longer running exits 1')
  t.match(bad.stderr, /not running/, 'and says why')
})
