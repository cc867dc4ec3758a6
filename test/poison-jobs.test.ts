// Poison jobs on a real lab: a job whose runs keep coinciding with node deaths, or keep failing
// the same way, is held with its reason after faultTolerance.poisonAfter (default 2) runs instead
// of being walked across the whole group; `mvm status` shows why and `mvm release` queues it again.
import t from 'tap'
import { join } from 'node:path'
import { ROOT, runCli, startLab, submit, waitFor, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')

// one lab for the file: the first test kills two of its three peers; the second runs on the
// survivor and one peer added back
let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 3, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

t.test('a job whose node dies under it twice is held, not placed on every peer', async (t) => {
  const byId = new Map(lab.peers.map((p) => [p.ready.peerId, p]))
  // two ranks packed onto one peer of two slots: each run lives on exactly one node
  const { jobId } = await submit(lab.broker, join(FIX, 'where-pack.yaml'), { processes: '2', holdMs: '600000' })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  const killed: string[] = []
  let state = ''
  // each run: wait until it runs, kill the node it runs on (as a rank that takes its node
  // down would), then wait until the broker has given that run up; bounded by the peer count
  for (let run = 0; run < lab.peers.length && state !== 'held'; run++) {
    let placedOn = ''
    await waitFor(async () => {
      const j = await lab.broker.GetJob({ jobId })
      state = j.state
      placedOn = j.placement[0]?.peerId ?? ''
      return j.state === 'running' || j.state === 'held' || j.state === 'failed'
    }, 60_000, `run ${run + 1} to start`)
    if (state !== 'running') break
    t.notOk(killed.includes(placedOn), `run ${run + 1} is not placed on a dead node`)
    const victim = byId.get(placedOn)!
    victim.child.kill('SIGKILL')
    killed.push(placedOn)
    // given up: held, failed, or requeued (possibly already placed again, elsewhere)
    await waitFor(async () => {
      const j = await lab.broker.GetJob({ jobId })
      state = j.state
      return ['held', 'failed', 'queued'].includes(j.state) || (j.placement[0]?.peerId ?? placedOn) !== placedOn
    }, 30_000, `the broker to give run ${run + 1} up`)
  }
  const info = await lab.broker.GetJob({ jobId })
  t.equal(info.state, 'held', 'held after two node deaths')
  t.equal(killed.length, 2, 'exactly two nodes died for it; the third peer was never given it')
  t.match(info.reason, /held: 2 nodes went down while it ran \(last: node \S+ \(\S+\) went down\)/)
  const survivor = lab.peers.find((p) => !killed.includes(p.ready.peerId))!
  const nodes = (await lab.broker.ListNodes({})).nodes
  t.equal(nodes.find((n) => n.peerId === survivor.ready.peerId)?.state, 'up', 'the last peer is still up')
  // WaitJob answers for a held job instead of blocking until its timeout
  t.equal((await lab.broker.WaitJob({ jobId, timeoutMs: 60_000 })).state, 'held')

  const status = await runCli(['status', jobId, '--bootstrap', lab.bootstrap])
  t.equal(status.code, 0, status.stderr)
  t.match(status.stdout, /state\s+held — held: 2 nodes went down while it ran/, 'mvm status says why')
  t.match(status.stdout, `mvm release ${jobId}`, 'and how to queue it again')
  const listed = (await lab.broker.ListJobs({ state: 'held' })).jobs.map((j) => j.jobId)
  t.ok(listed.includes(jobId), 'ListJobs finds it by state held')

  const rel = await runCli(['release', jobId, '--bootstrap', lab.bootstrap])
  t.equal(rel.code, 0, rel.stderr)
  t.match(rel.stdout, `${jobId} queued`)
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state === 'running', 60_000, 'the released job to run again')
  t.equal((await lab.broker.GetJob({ jobId })).placement[0]?.peerId, survivor.ready.peerId, 'it runs on the peer that is left')
  const again = await runCli(['release', jobId, '--bootstrap', lab.bootstrap])
  t.equal(again.code, 1, 'releasing a job that is not held exits 1')
  t.match(again.stderr, /is running, not held/)
})

t.test('a job that fails the same way twice (retryFailedRanks) is held with that failure', async (t) => {
  await lab.addPeer()
  await waitFor(async () => (await lab.broker.ListNodes({})).nodes.filter((n) => n.state === 'up' && n.roles.includes('peer')).length >= 2, 30_000, 'two peers up')
  await lab.broker.ApplyPolicy({ policyYaml: 'apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: retry\nspec:\n  level: domain\n  faultTolerance:\n    retryFailedRanks: true\n    maxRestarts: 5\n' })
  const { jobId } = await submit(lab.broker, join(FIX, 'thrower.yaml'), { processes: '2' })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await waitFor(async () => ['held', 'failed', 'succeeded'].includes((await lab.broker.GetJob({ jobId })).state), 120_000, 'the job to be held')
  const info = await lab.broker.GetJob({ jobId })
  t.equal(info.state, 'held', `held, not retried to the end of maxRestarts (${info.reason ?? ''})`)
  t.match(info.reason, /held: failed the same way 2 times in a row \(rank 1 on \S+ \(\S+\) failed: .*boom from rank 1/)
  const events = await runCli(['status', jobId, '--bootstrap', lab.bootstrap])
  t.match(events.stdout, /state\s+held/)
})
