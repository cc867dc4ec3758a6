// State that must survive what it should: a job whose ranks are gone leaves `running`, and a
// policy applied at run time is still in force after the super-peer process restarts.
import t from 'tap'
import { join } from 'node:path'
import { createNodeClient } from '@mvm/soap'
import { ROOT, runCli, startLab, submit, waitFor, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

t.test('ranks stopped by Node.Terminate on their peers: the job leaves running', async (t) => {
  const { jobId } = await submit(lab.broker, join(FIX, 'sleeper.yaml'), { processes: '2' })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state === 'running', 60_000, 'the job to run')
  const placed = new Set((await lab.broker.GetJob({ jobId })).placement.map((p) => p.peerId))
  // one of its peers is enough: the broker stops the job's other ranks itself
  const p = lab.peers.find((x) => placed.has(x.ready.peerId))!
  const r = await createNodeClient(p.ready.soapUrl).Terminate({ jobId })
  t.ok(r.stopped > 0, `${p.name} stopped the job's ranks`)
  // failure detection: rank reports arrive within the report retry bound; no broker restart
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state !== 'running', 30_000, 'the job to leave running')
  const info = await lab.broker.GetJob({ jobId })
  t.equal(info.state, 'failed', 'failed (retryFailedRanks is off by default)')
  t.match(info.reason, /failed: terminated on node \S+ \(Node\.Terminate\)/)
})

t.test('a policy applied at run time is stored and back in force after a super-peer restart', async (t) => {
  const policy = 'apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: kept\nspec:\n  level: domain\n  scheduling:\n    strategy: pack\n  faultTolerance:\n    maxRestarts: 7\n'
  await lab.broker.ApplyPolicy({ policyYaml: policy })
  const before = JSON.parse((await lab.broker.GetPolicy({})).policyJson) as { spec: { scheduling: { strategy: string }, faultTolerance: { maxRestarts: number } } }
  t.equal(before.spec.scheduling.strategy, 'pack')
  await lab.restartSuperPeer('SIGKILL')
  await waitFor(async () => (await lab.broker.ListNodes({})).nodes.filter((n) => n.state === 'up' && n.roles.includes('peer')).length === 2, 60_000, 'peers to rejoin')
  const shown = await runCli(['policy', 'show', '--json', '--broker', lab.bootstrap])
  t.equal(shown.code, 0, shown.stderr)
  const after = JSON.parse(shown.stdout) as { spec: { scheduling: { strategy: string }, faultTolerance: { maxRestarts: number } }, layers: Array<{ origin: string, name: string }> }
  t.equal(after.spec.scheduling.strategy, 'pack', 'the applied strategy is back')
  t.equal(after.spec.faultTolerance.maxRestarts, 7, 'and its fault tolerance')
  t.match(after.layers, [{ origin: 'ApplyPolicy', name: 'kept' }], 'shown as the applied layer')
  // and the broker acts on it: pack puts both ranks of a small job on one peer
  const { jobId } = await submit(lab.broker, join(FIX, 'sleeper.yaml'), { processes: '2' })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state === 'running', 60_000, 'the job to run')
  t.equal(new Set((await lab.broker.GetJob({ jobId })).placement.map((p) => p.peerId)).size, 1, 'packed on one peer')
})
