// Placement on a real lab of 2 peers × 2 slots: ranks forced apart (spread) or onto named
// nodes really run where GetJob says, as their sandbox directories show; a job that cannot fit
// waits queued with nothing started and runs once capacity frees.
import t from 'tap'
import { copyFile, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { createNodeClient } from '@mvm/soap'
import { ROOT, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')
interface Where { rank: number, cwd: string, pid: number }

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

/** The lab peer (by peer id) whose data dir (`<lab>/<peer name>`, see startLab) holds `cwd`. */
function peerOf (cwd: string): string | undefined {
  const top = relative(lab.dir, cwd).split(sep)[0]
  return lab.peers.find((p) => top === p.name)?.ready.peerId
}

async function processesOf (jobId: string): Promise<number> {
  let n = 0
  for (const p of lab.peers) n += (await createNodeClient(p.ready.soapUrl).ListProcesses()).processes.filter((x) => x.jobId === jobId).length
  return n
}

t.test('spread: two ranks run on different peers, where GetJob places them', async (t) => {
  const { jobId } = await submit(lab.broker, join(FIX, 'where-spread.yaml'))
  const { info, result } = await waitJob(lab.broker, jobId, 60_000)
  t.equal(info.state, 'succeeded', info.reason ?? '')
  const placed = info.placement.sort((a, b) => a.rank - b.rank).map((p) => p.peerId)
  t.equal(placed.length, 2)
  t.not(placed[0], placed[1], 'GetJob places the ranks on two peers')
  const where = JSON.parse(result.resultJson ?? '[]') as Where[]
  t.equal(where.length, 2, 'both ranks answered')
  for (const w of where) t.equal(peerOf(w.cwd), placed[w.rank], `rank ${w.rank} ran in ${w.cwd}, on the peer GetJob names`)
  t.not(peerOf(where[0]!.cwd), peerOf(where[1]!.cwd), 'the sandbox dirs are on different peers')
  t.same(result.ranks.map((r) => r.peerId).sort(), [...placed].sort(), 'rank reports come from the placed peers')
})

t.test('nodes: a profile naming one peer runs all its ranks there', async (t) => {
  const dir = t.testdir()
  const target = lab.peers[1]!.ready.peerId
  await copyFile(join(FIX, 'where.ts'), join(dir, 'where.ts'))
  await copyFile(join(ROOT, 'topologies', 'ring.yaml'), join(dir, 'ring.yaml'))
  await writeFile(join(dir, 'pinned.yaml'), [
    'apiVersion: mvm/v1', 'kind: JobProfile', 'metadata: { name: pinned }',
    'spec:', '  program: where.ts', '  topology: ring.yaml', '  processes: 2',
    '  resources: { memoryMB: 128, cpu: 1, wallTimeSec: 120 }', `  placement: { nodes: [${target}] }`, ''
  ].join('\n'))
  const { jobId } = await submit(lab.broker, join(dir, 'pinned.yaml'))
  const { info, result } = await waitJob(lab.broker, jobId, 60_000)
  t.equal(info.state, 'succeeded', info.reason ?? '')
  t.same(info.placement.map((p) => p.peerId), [target, target])
  const where = JSON.parse(result.resultJson ?? '[]') as Where[]
  t.same(where.map((w) => peerOf(w.cwd)), [target, target], 'both sandboxes are on the named peer')
})

t.test('a job that cannot fit waits queued, nothing started, and runs when capacity frees', async (t) => {
  const holder = await submit(lab.broker, join(FIX, 'where-pack.yaml'), { processes: '3', holdMs: '6000' })
  await waitFor(async () => (await lab.broker.GetJob({ jobId: holder.jobId })).state === 'running', 30_000, 'the holder to run')
  const big = await submit(lab.broker, join(FIX, 'where-pack.yaml'), { processes: '4' })
  // while the holder keeps 3 of the 4 slots the 4-rank job must stay whole in the queue
  for (let i = 0; i < 10; i++) {
    const [h, b] = await Promise.all([lab.broker.GetJob({ jobId: holder.jobId }), lab.broker.GetJob({ jobId: big.jobId })])
    if (h.state !== 'running') break
    t.equal(b.state, 'queued', 'still queued while the holder runs')
    t.equal(b.ranksStarted, 0)
    t.equal(b.placement.length, 0, 'no partial placement')
    t.equal(await processesOf(big.jobId), 0, 'no rank process on any peer')
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
  const h = await waitJob(lab.broker, holder.jobId, 60_000)
  t.equal(h.info.state, 'succeeded', h.info.reason ?? '')
  const b = await waitJob(lab.broker, big.jobId, 60_000)
  t.equal(b.info.state, 'succeeded', b.info.reason ?? '')
  t.ok(Date.parse(b.info.startedAt ?? '') >= Date.parse(h.info.finishedAt ?? '') - 1500, 'the big job started only after the holder ended')
  const where = JSON.parse(b.result.resultJson ?? '[]') as Where[]
  t.equal(where.length, 4, 'all four ranks ran')
  t.equal(new Set(where.map((w) => peerOf(w.cwd))).size, 2, 'across both peers')
})
