// A standby super-peer (issue 13, item 4): a second super-peer follows the active broker's job
// store over libp2p; the active one is killed with SIGKILL while sample jobs run and wait; the
// standby takes the group over, the peers rejoin it, the bootstrap (on its own node) points at
// it, and every job ends with the right answer. The client is the CLI's own (found through the
// bootstrap, retrying idempotent calls when its broker is unreachable).
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import Database from 'better-sqlite3'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findBroker, startNodeProcess, type NodeProcess } from '@mvm/cli'
import { createBootstrapClient, type BrokerClient } from '@mvm/soap'
import { ROOT, runCli, submit, waitFor, waitJob } from './lib/lab.js'
import { heatSerial, maxDiff, primeCount } from './lib/oracles.js'

const profile = (name: string): string => join(ROOT, 'profiles', name)
const HB = ['--heartbeat-ms', '300', '--missed-heartbeats', '8']

let dir: string
const nodes: NodeProcess[] = []
t.teardown(async () => {
  await Promise.all(nodes.map(async (n) => await n.stop(3000).catch(() => {})))
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** Job states in a copy of the broker's store (undefined where the job is missing or the file unreadable). */
function copiedStates (file: string, ids: string[]): Array<string | undefined> {
  let db: Database.Database | undefined
  try {
    db = new Database(file, { readonly: true, fileMustExist: true })
    const q = db.prepare('SELECT state FROM jobs WHERE id = ?').pluck()
    return ids.map((id) => q.get(id) as string | undefined)
  } catch { return ids.map(() => undefined) } finally { db?.close() }
}

const t0 = Date.now()
const mark = (t: { comment: (m: string) => void }, what: string): void => { t.comment(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`) }

t.test('the standby takes over when the active super-peer is killed; no job is lost', async (t) => {
  dir = await mkdtemp(join(tmpdir(), 'mvm-test-standby-'))
  const start = async (name: string, args: string[]): Promise<NodeProcess> => {
    // generous: on a loaded CI machine a node process takes seconds to start
    const n = await startNodeProcess(name, ['--soap-port', '0', '--data-dir', join(dir, name), ...args], { timeoutMs: 90_000 })
    nodes.push(n)
    return n
  }
  const boot = await start('boot', ['--roles', 'bootstrap'])
  const bootstrap = boot.ready.soapUrl
  const group = ['--group', 'lab', '--bootstrap', bootstrap]
  const active = await start('active', ['--roles', 'super-peer', ...group, ...HB])
  const [standby] = await Promise.all([
    start('standby', ['--roles', 'super-peer', '--standby', ...group, ...HB]),
    start('peer1', ['--roles', 'peer', ...group, '--slots', '2', ...HB]),
    start('peer2', ['--roles', 'peer', ...group, '--slots', '2', ...HB])
  ])
  mark(t, 'nodes started')
  t.not(standby!.ready.peerId, active.ready.peerId)

  // the CLI's client: found through the bootstrap, it follows the group's broker
  const broker: BrokerClient = await findBroker({ bootstrap, group: 'lab' })
  await waitFor(async () => {
    const ns = (await broker.ListNodes({})).nodes
    return ns.filter((n) => n.state === 'up' && n.roles.includes('peer')).length === 2 &&
      ns.some((n) => n.peerId === standby!.ready.peerId && n.state === 'up' && n.roles.includes('standby-super-peer'))
  }, 30_000, 'both peers and the standby to join the active super-peer')
  mark(t, 'group joined')
  const before = await runCli(['nodes', '--bootstrap', bootstrap, '--group', 'lab'])
  t.equal(before.code, 0, before.stderr)
  t.match(before.stdout, /standby-super-peer/, 'mvm nodes shows the standby')

  // 4 slots: two jobs run, two wait in the queue
  const jobs: Array<{ name: string, file: string, params: Record<string, string>, check: (r: unknown) => boolean }> = [
    { name: 'primes 10^7', file: 'primes.yaml', params: { processes: '2' }, check: (r: unknown) => r === primeCount(10_000_000) },
    { name: 'primes 2e6', file: 'primes.yaml', params: { processes: '2', n: '2000000' }, check: (r: unknown) => r === primeCount(2_000_000) },
    { name: 'ring', file: 'ring.yaml', params: { processes: '2', laps: '40' }, check: (r: unknown) => JSON.stringify(r) === JSON.stringify({ token: 40, laps: 40, size: 2 }) },
    {
      name: 'heat', file: 'heat.yaml', params: { processes: '2', cells: '600', steps: '200' },
      check: (r: unknown) => maxDiff((r as { grid: number[] }).grid, heatSerial(600, 200, 0.25)) < 1e-9
    }
  ]
  const ids: string[] = []
  for (const j of jobs) { ids.push((await submit(broker, profile(j.file), j.params)).jobId); mark(t, `submitted ${j.name}`) }
  await waitFor(async () => (await broker.GetJob({ jobId: ids[0]! })).state === 'running', 60_000, 'the first job to run')
  // the standby's copy of the store, read as a file: it has every job, the first one running
  await waitFor(() => copiedStates(join(dir, 'standby', 'broker', 'broker.db'), ids)[0] === 'running', 30_000, 'the standby\'s copy to show the first job running')
  t.equal(copiedStates(join(dir, 'standby', 'broker', 'broker.db'), ids).filter((s) => s !== undefined).length, 4, 'the standby holds every submitted job')
  const states = await Promise.all(ids.map(async (jobId) => (await broker.GetJob({ jobId })).state))
  t.ok(states.filter((s) => s === 'queued').length >= 1, `some jobs still queued at the kill: ${states.join(', ')}`)

  mark(t, 'killing the active super-peer')
  active.child.kill('SIGKILL')
  const bootClient = createBootstrapClient(bootstrap)
  await waitFor(async () => (await bootClient.GetBrokers({ group: 'lab' })).brokers[0]?.peerId === standby!.ready.peerId, 30_000, 'the bootstrap to name the standby as the broker of group lab')

  mark(t, 'the bootstrap names the standby')
  for (const [i, j] of jobs.entries()) {
    const { info, result } = await waitJob(broker, ids[i]!, 90_000)
    t.equal(info.state, 'succeeded', `${j.name}: ${info.reason ?? ''}`)
    t.ok(j.check(JSON.parse(result.resultJson ?? 'null')), `${j.name}: the right answer`)
  }
  mark(t, 'all jobs ended')
  const history = (await broker.ListHistory({ limit: 100 })).jobs
  const first = history.find((h) => h.jobId === ids[0])
  t.ok(first !== undefined && first.restarts >= 1, `the job running at the kill ran again under the new broker (restarts ${first?.restarts})`)

  // the jobs may all have run on the peer that rejoined first: the other one rejoins after its own
  // backoff, so its state is waited for (bounded), then checked
  const peersUp = async (): Promise<number> => (await broker.ListNodes({})).nodes.filter((n) => n.state === 'up' && n.roles.includes('peer')).length
  await waitFor(async () => await peersUp() === 2, 30_000, 'both peers to rejoin the new active super-peer').catch(() => {})
  const nodesAfter = (await broker.ListNodes({})).nodes
  const self = nodesAfter.find((n) => n.peerId === standby!.ready.peerId)
  t.ok(self?.roles.includes('super-peer') === true && !self.roles.includes('standby-super-peer'), 'the standby is now the active super-peer')
  t.equal(nodesAfter.filter((n) => n.state === 'up' && n.roles.includes('peer')).length, 2, 'both peers joined it')
  const after = await runCli(['nodes', '--bootstrap', bootstrap, '--group', 'lab', '--json'])
  t.equal(after.code, 0, after.stderr)
  const shown = JSON.parse(after.stdout) as Array<{ peerId: string, roles: string[] }>
  t.ok(shown.some((n) => n.peerId === standby!.ready.peerId && n.roles.includes('super-peer')), 'mvm nodes through the bootstrap shows the new active super-peer')
})
