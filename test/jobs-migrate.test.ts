// Migration and drain (`mvm migrate`, `mvm drain`): a 4-rank token ring with coordinated
// checkpoints (test/fixtures/cut) runs on a real lab (3 peers × 2 slots, `recovery: restart`).
// A rank is moved to another node mid-run (after the refusals, each with its code), a node hosting
// a rank is drained, and the node a rank was moved to is SIGKILLed while the rank is being moved
// back; each time every rank's order-sensitive hash of the tokens it received equals a serial
// run's, so no token was lost or delivered twice.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT, runCli, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'
import { highestStep, tokenRingSerial } from './lib/oracles.js'

const FIX = join(ROOT, 'test', 'fixtures', 'cut')
const TOKENS = join(FIX, 'tokens.yaml')
const R = 4
const N = 40
const W = 3

interface Outcome { acc: number, count: number, resumedFrom: number }

const expected = tokenRingSerial(R, N, W)
/** The ring of the migration subtest runs longer: its refusals come first. */
const LONG = 100
const expectedLong = tokenRingSerial(R, LONG, W)

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 3, slots: 2, superArgs: ['--policy', join(FIX, 'restart-policy.yaml')] }) })
t.teardown(async () => { await lab?.stop() })

const stepOf = async (tag: string, rank: number): Promise<number> => await highestStep(lab.dir, tag, rank)

async function codeOf (p: Promise<unknown>): Promise<string> {
  try { await p; return 'ok' } catch (err) { return (err as { code?: string }).code ?? String(err) }
}

/** Starts the ring and waits until rank 0 passed step `at` with every rank running. */
async function ring (t: Test, at: number, interval = 3600, n = N): Promise<{ jobId: string, tag: string }> {
  const tag = randomUUID()
  const { jobId } = await submit(lab.broker, TOKENS, { processes: String(R), n: String(n), w: String(W), interval: String(interval), tag })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await waitFor(async () => await stepOf(tag, 0) >= at, 60_000, `rank 0 to pass step ${at}`)
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state === 'running', 30_000, 'the broker to see the ranks running')
  return { jobId, tag }
}

/** Waits for the ring's end and checks every rank's hash against the serial run's; returns the ranks' nodes. */
async function exact (t: Test, jobId: string, want = expected): Promise<{ from: number, peers: string[] }> {
  const { info, result } = await waitJob(lab.broker, jobId, 90_000)
  t.equal(info.state, 'succeeded', `the job succeeds: ${info.reason ?? ''}`)
  const outs = [...result.ranks].sort((a, b) => a.rank - b.rank).map((r) => ({ rank: r.rank, peerId: r.peerId ?? '', out: JSON.parse(r.resultJson ?? '{}') as Outcome }))
  t.equal(outs.length, R, 'every rank reports')
  const from = outs[0]?.out.resumedFrom ?? -1
  for (const x of outs) {
    t.same({ acc: x.out.acc, count: x.out.count }, want[x.rank], `rank ${x.rank}: the hash of what it received equals the serial run's`)
    t.equal(x.out.resumedFrom, from, `rank ${x.rank} resumed from the same cut (step ${from})`)
  }
  return { from, peers: outs.map((x) => x.peerId) }
}

const peerIds = (): string[] => lab.peers.map((p) => p.ready.peerId)

/** A node other than rank `rank`'s with a free slot (2 slots each), the ring's ranks being all that runs. */
function roomFor (placement: string[], rank: number): string {
  const used = (p: string): number => placement.filter((x) => x === p).length
  const to = peerIds().filter((p) => p !== placement[rank] && used(p) < 2).sort((a, b) => used(a) - used(b))[0]
  if (to === undefined) throw new Error(`no node has room for rank ${rank} (placement ${placement.join(', ')})`)
  return to
}

t.test('the serial oracle moves every token', async (t) => {
  t.same(expected.map((e) => e.count), Array(R).fill(N), 'each rank takes n tokens')
  t.same(expectedLong.map((e) => e.count), Array(R).fill(LONG), 'also on the longer ring')
})

/** A job without coordinated checkpoints, kept queued behind `after` (so it takes no slot), for the refusal that names it. */
async function plainProfile (after: string): Promise<string> {
  const file = join(lab.dir, 'plain.yaml')
  await writeFile(file, [
    'apiVersion: mvm/v1', 'kind: JobProfile', 'metadata: { name: plain }', 'spec:',
    '  program:', '    language: js',
    "    inline: \"import { job } from '@mvm/job'; export default job(async () => { await new Promise((r) => setTimeout(r, 600000)); return 1 })\"",
    '  topology: { shape: line, size: 1 }', '  processes: 1', `  dependsOn: [afterok:${after}]`, '  resources: { memoryMB: 64, cpu: 0.5, wallTimeSec: 900 }', ''
  ].join('\n'))
  return file
}

t.test('MigrateRank refuses what it cannot do with a stable code, then moves rank 1 of a running ring; the answer is exact', async (t) => {
  const started = Date.now()
  const { jobId, tag } = await ring(t, 6, 3600, LONG)
  t.comment(`the ring ran to step 6 in ${Date.now() - started} ms`)
  const before = (await lab.broker.GetJob({ jobId })).placement.map((p) => p.peerId)
  const target = roomFor(before, 1)

  // refusals, while the ring runs: none of them may disturb it
  t.equal(await codeOf(lab.broker.MigrateRank({ jobId: 'j-no-such-job', rank: 0, node: target })), 'E_NOT_FOUND', 'an unknown job: E_NOT_FOUND')
  t.equal(await codeOf(lab.broker.MigrateRank({ jobId, rank: R, node: target })), 'E_NOT_FOUND', 'a rank the job does not have: E_NOT_FOUND')
  t.equal(await codeOf(lab.broker.MigrateRank({ jobId, rank: 1, node: 'no-such-node' })), 'E_NOT_FOUND', 'an unknown node: E_NOT_FOUND')
  t.equal(await codeOf(lab.broker.MigrateRank({ jobId, rank: 1, node: lab.superPeer.ready.peerId })), 'E_BAD_REQUEST', 'a node without the peer role: E_BAD_REQUEST')
  // 4 ranks on 3 nodes of 2 slots: some node runs 2 of them and is full
  const full = peerIds().find((p) => before.filter((x) => x === p).length >= 2)!
  const mover = before.findIndex((p) => p !== full)
  t.equal(await codeOf(lab.broker.MigrateRank({ jobId, rank: mover, node: full })), 'E_CAPACITY', 'a node without a free slot: E_CAPACITY')
  const { jobId: plain } = await submit(lab.broker, await plainProfile(jobId))
  try {
    await lab.broker.MigrateRank({ jobId: plain, rank: 0, node: target })
    t.fail('a job without coordinated checkpoints moved')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'E_INVALID_STATE', 'a job without coordinated checkpoints: E_INVALID_STATE')
    t.match((err as Error).message, /coordinated/, 'and the message says why')
  }
  await lab.broker.CancelJob({ jobId: plain })
  t.equal((await lab.broker.GetJob({ jobId })).state, 'running', 'the refused moves left the ring running')
  t.same((await lab.broker.GetJob({ jobId })).placement.map((p) => p.peerId), before, 'where it was')

  const asked = await stepOf(tag, 0)
  const t0 = Date.now()
  t.comment(`the refusals took ${t0 - started} ms since submit`)
  const moved = await lab.broker.MigrateRank({ jobId, rank: 1, node: target }, { timeoutMs: 90_000 })
  t.comment(`MigrateRank took ${Date.now() - t0} ms`)
  t.equal(moved.placement.find((p) => p.rank === 1)?.peerId, target, 'the answer places rank 1 on the node asked for')
  t.same(moved.placement.filter((p) => p.rank !== 1).map((p) => p.peerId), before.filter((_, r) => r !== 1), 'the other ranks stay where they were')
  t.ok(moved.state === 'scheduled' || moved.state === 'running', `and the job goes on (${moved.state})`)
  const t1 = Date.now()
  const { from, peers } = await exact(t, jobId, expectedLong)
  t.comment(`the moved ring ended ${Date.now() - t1} ms later`)
  t.equal(peers[1], target, 'rank 1 finished on its new node')
  t.ok(from >= asked && from < LONG, `the ranks went on from the cut taken for the move (step ${from}, asked at ${asked}), not from scratch`)
  t.equal(await codeOf(lab.broker.MigrateRank({ jobId, rank: 1, node: before[1]! })), 'E_INVALID_STATE', 'a finished job: E_INVALID_STATE')
  t.equal(await codeOf(lab.broker.DrainNode({ node: 'no-such-node' })), 'E_NOT_FOUND', 'DrainNode of an unknown node: E_NOT_FOUND')
  const cli = await runCli(['migrate', jobId, '--rank', '1', '--to', target, '--broker', lab.superPeer.ready.soapUrl])
  t.equal(cli.code, 1, 'mvm migrate of a finished job exits 1')
  t.match(cli.stderr, /already succeeded/, 'and says why')
})

t.test('DrainNode: the ranks there move, the answer is exact, the node shows drained and takes no new ranks', async (t) => {
  const { jobId } = await ring(t, 10)
  const before = (await lab.broker.GetJob({ jobId })).placement.map((p) => p.peerId)
  const node = before[2]!
  const report = await lab.broker.DrainNode({ node })
  t.equal(report.peerId, node, 'the report names the node')
  t.ok(report.moving.includes(jobId), 'the ring is being moved off it')
  t.same(report.staying, [], 'nothing stays there')
  await waitFor(async () => (await lab.broker.GetNode({ peerId: node })).drain === 'drained', 60_000, 'the node to be drained')
  const now = (await lab.broker.GetJob({ jobId })).placement.map((p) => p.peerId)
  t.notOk(now.includes(node), 'no rank of the ring runs there any more')
  t.same(now.filter((_, r) => before[r] !== node), before.filter((p) => p !== node), 'the ranks of the other nodes stayed where they were')
  const listed = (await lab.broker.ListNodes({})).nodes.find((n) => n.peerId === node)
  t.equal(listed?.drain, 'drained', 'ListNodes shows it drained')
  t.equal(listed?.state, 'up', 'and still up')
  // a job that could use the node waits, and its wait reason names the drain
  const tag = randomUUID()
  const { jobId: big } = await submit(lab.broker, TOKENS, { processes: '6', n: '4', w: '1', tag })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId: big }).catch(() => {}) })
  await waitFor(async () => ((await lab.broker.GetJob({ jobId: big })).waitReason ?? '').includes('draining'), 30_000, 'the waiting job to name the drained node')
  await lab.broker.CancelJob({ jobId: big })
  const { peers } = await exact(t, jobId)
  t.notOk(peers.includes(node), 'every rank finished off the drained node')
  const table = await runCli(['nodes', '--broker', lab.superPeer.ready.soapUrl])
  t.match(table.stdout, /up \(drained\)/, 'mvm nodes shows the drain')
  const undo = await runCli(['undrain', node, '--broker', lab.superPeer.ready.soapUrl])
  t.equal(undo.code, 0, `mvm undrain exits 0: ${undo.stderr}`)
  t.equal((await lab.broker.GetNode({ peerId: node })).drain, undefined, 'the node is no longer drained')
})

t.test('kill -9 after a move, during the next one: the ring resumes from the last cut, exact', async (t) => {
  const { jobId, tag } = await ring(t, 6, 0.3)
  const before = (await lab.broker.GetJob({ jobId })).placement.map((p) => p.peerId)
  const target = roomFor(before, 1)
  const moved = await lab.broker.MigrateRank({ jobId, rank: 1, node: target }, { timeoutMs: 90_000 })
  t.equal(moved.placement.find((p) => p.rank === 1)?.peerId, target, 'rank 1 moved')
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state === 'running', 30_000, 'the moved ring to run')
  const after = await stepOf(tag, 0)
  await waitFor(async () => await stepOf(tag, 0) >= Math.min(after + 6, N - 12), 60_000, 'the ring to run on after the move')
  // moving rank 1 back, and its node dies while the broker waits for the cut or restarts the ranks
  const back = lab.broker.MigrateRank({ jobId, rank: 1, node: before[1]! }, { timeoutMs: 90_000 }).then((i) => `moved (${i.state})`, (err: { code?: string }) => err.code ?? String(err))
  lab.peers.find((p) => p.ready.peerId === target)!.child.kill('SIGKILL')
  const outcome = await back
  t.ok(['E_INVALID_STATE', 'E_UNAVAILABLE', 'E_CAPACITY', 'E_TIMEOUT'].includes(outcome) || outcome.startsWith('moved'), `the second move either happened or was refused with a code: ${outcome}`)
  const { peers } = await exact(t, jobId)
  t.notOk(peers.includes(target), 'no rank ended on the killed node')
})
