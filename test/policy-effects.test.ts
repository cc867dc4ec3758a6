import '@mvm/core/polyfill'
import t from 'tap'
import { join } from 'node:path'
import { silentLogger } from '@mvm/core'
import { createMvmHost, type MvmHost } from '@mvm/node'
import { createBrokerClient } from '@mvm/soap'
import { ROOT, runCli, submit, waitJob } from './lib/lab.js'
import { waitFor } from './lib/nodes.js'

// Each policy section proven by what it does to the next job, on one small lab (a super-peer
// and one peer) shared by the subtests.

const BARE = join(ROOT, 'test', 'fixtures', 'policies', 'bare-sleeper.yaml')
const SLEEPER = join(ROOT, 'test', 'fixtures', 'jobs', 'sleeper.yaml')
const RESERVED = join(ROOT, 'test', 'fixtures', 'policies', 'reserved-sleeper.yaml')
const doc = (body: string): string => `apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: effects\nspec:\n  level: domain\n${body}`
const HB = { heartbeatMs: 150, missedHeartbeats: 3 }

t.test('policy sections act on new jobs', async (t) => {
  const dir = t.testdir()
  const hosts: MvmHost[] = []
  t.teardown(async () => { for (const h of hosts.reverse()) await h.stop().catch(() => {}) })
  let sp = createMvmHost({ dataDir: join(dir, 'sp'), roles: ['bootstrap', 'super-peer'], group: 'lab', soap: { port: 0 }, monitoring: HB, logger: silentLogger() })
  await sp.start(); hosts.push(sp)
  const peer = createMvmHost({ dataDir: join(dir, 'p'), roles: ['peer'], group: 'lab', bootstrap: [sp.node.soapUrl], soap: { port: 0 }, monitoring: HB, capacity: { slots: 2 }, logger: silentLogger() })
  await peer.start(); hosts.push(peer)
  let broker = createBrokerClient(sp.node.soapUrl)
  await waitFor('the peer joined', async () => (await broker.ListNodes({})).nodes.some((n) => n.peerId === peer.node.peerId && n.state === 'up'))
  const stored = (jobId: string): { queue: { type: string, capacity: number, encoding: string }, resources: { memoryMB: number, wallTimeSec: number } } =>
    sp.superPeer!.agent.broker.get(jobId).request.instance as never
  const apply = async (body: string): Promise<void> => { t.equal((await broker.ApplyPolicy({ policyYaml: doc(body) }, { timeoutMs: 10_000 })).applied, true) }

  t.test('queues and sandbox.defaults fill what a profile did not write, and only that', async (t) => {
    await apply('  queues: { type: priority, capacity: 16 }\n  sandbox: { defaults: { memoryMB: 96, wallTimeSec: 30 } }\n')
    const bare = await submit(broker, BARE)
    t.same(stored(bare.jobId).queue, { type: 'priority', capacity: 16, encoding: 'json' }, 'the policy queue settings (encoding: the default)')
    t.match(stored(bare.jobId).resources, { memoryMB: 96, wallTimeSec: 30 }, 'the policy sandbox defaults')
    t.equal((await waitJob(broker, bare.jobId)).info.state, 'succeeded', 'and the job runs with them')
    const own = await submit(broker, SLEEPER, { processes: '2', ms: '10' })
    t.same(stored(own.jobId).queue, { type: 'fifo', capacity: 8, encoding: 'json' }, 'a profile\'s own queue settings stay')
    t.match(stored(own.jobId).resources, { memoryMB: 128, wallTimeSec: 900 }, 'and its own resources')
    t.equal((await waitJob(broker, own.jobId)).info.state, 'succeeded')
  })

  t.test('sandbox.defaults.wallTimeSec stops a job that runs longer and wrote no limit', async (t) => {
    await apply('  sandbox: { defaults: { wallTimeSec: 1 } }\n')
    const t0 = Date.now()
    const { jobId } = await submit(broker, BARE, { ms: '20000' })
    const { info, result } = await waitJob(broker, jobId, 20_000)
    t.equal(info.state, 'failed', 'stopped by the policy\'s wall time')
    t.match(JSON.stringify(result), /wall time limit of 1 s exceeded|wall-time/, 'the reason names the wall time limit')
    t.ok(Date.now() - t0 < 15_000, 'long before the job would have ended')
  })

  t.test('queues.maxCapacity and queues.encodings refuse a job asking for more or other', async (t) => {
    await apply('  queues: { maxCapacity: 4 }\n')
    await t.rejects(submit(broker, SLEEPER, { processes: '2', ms: '10' }), { code: 'E_BAD_REQUEST', message: /spec\.queue\.capacity 8 is over the policy's queues\.maxCapacity 4/ })
    await apply('  queues: { encodings: [protobuf, raw] }\n')
    await t.rejects(submit(broker, BARE), { code: 'E_BAD_REQUEST', message: /spec\.queue\.encoding json is not allowed by the policy \(queues\.encodings: protobuf, raw\)/ })
    await apply('  queues: { encodings: [json] }\n')
    const { jobId } = await submit(broker, BARE)
    t.equal((await waitJob(broker, jobId)).info.state, 'succeeded', 'an allowed encoding runs')
  })
  t.test('a reservation keeps its slots from others during its window, runs the jobs naming it, and frees them when it ends', async (t) => {
    const WINDOW_MS = 4000
    const to = new Date(Date.now() + WINDOW_MS)
    await apply(`  scheduling:\n    reservations:\n      - { name: course, slots: 2, subjects: [test], to: "${to.toISOString()}" }\n`)
    await waitFor('the reservation is active', () => sp.superPeer!.agent.broker.reservations().some((r) => r.name === 'course'))
    const other = await submit(broker, BARE)
    const mine = await submit(broker, RESERVED)
    t.equal((await waitJob(broker, mine.jobId, 20_000)).info.state, 'succeeded', 'the job naming the reservation runs in it')
    const waiting = await broker.GetJob({ jobId: other.jobId })
    t.equal(waiting.state, 'queued', 'the other job does not get the held slots')
    t.match(waiting.waitReason, /held by reservation course$/, 'and says so')
    await t.rejects(submit(broker, RESERVED, {}, 'mallory'), { code: 'E_BAD_REQUEST', message: /reservation course is for test, not mallory/ }, 'only its subjects submit into it')
    await t.rejects(submit(broker, RESERVED, { res: 'nope' }), { code: 'E_BAD_REQUEST', message: /spec\.reservation nope: no such reservation in the policy \(course\)/ }, 'an unknown reservation is refused')
    const done = await waitJob(broker, other.jobId, 20_000)
    t.equal(done.info.state, 'succeeded', 'the other job runs once the window ended')
    t.ok(Date.now() >= to.getTime(), 'not before')
  })

  t.test('mvm reserve holds whole nodes for a while; mvm nodes shows it', async (t) => {
    const r = await runCli(['reserve', 'lab-hold', '--nodes', peer.node.peerId, '--duration', '6', '--owner', 'test', '--broker', sp.node.soapUrl], 30_000)
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, /reserved lab-hold .* nodes 12D3KooW.* from .* to /)
    await t.rejects(broker.Reserve({ name: 'lab-hold', nodes: [], slots: 1, durationSec: 60, owners: [] }), { code: 'E_INVALID_STATE', message: /a reservation named lab-hold exists already/ })
    await t.rejects(broker.Reserve({ name: 'x', nodes: [], durationSec: 60, owners: [] }), { code: 'E_BAD_REQUEST', message: /give slots or nodes/ })
    const other = await submit(broker, BARE)
    const mine = await submit(broker, RESERVED, { res: 'lab-hold' })
    t.equal((await waitJob(broker, mine.jobId, 20_000)).info.state, 'succeeded', 'the job naming it runs')
    t.equal((await broker.GetJob({ jobId: other.jobId })).state, 'queued', 'the other job waits')
    const nodes = await runCli(['nodes', '--broker', sp.node.soapUrl], 30_000)
    t.equal(nodes.code, 0, nodes.stderr)
    t.match(nodes.stdout, /RESERVATIONS\n {2}lab-hold {2}active .* for test {2}held \(used\/held\): \S+ 0\/2/, 'mvm nodes lists the reservation and what it holds')
    t.equal((await waitJob(broker, other.jobId, 20_000)).info.state, 'succeeded', 'the other job runs when it is over')
  })

  t.test('every version is kept (who, when, what changed), survives a restart, and can be rolled back to', async (t) => {
    interface H { version: number, history: Array<{ version: number, atMs: number, who: string, origin: string, changes: string[] }> }
    const history = async (): Promise<H> => JSON.parse((await broker.GetPolicy({ timeoutMs: 10_000 }, { history: true })).policyJson) as H
    const before = await history()
    t.ok(before.history.length >= 4, 'the versions of the subtests above')
    const first = before.history.find((v) => v.changes.some((c) => /queues\.capacity: 64 -> 16/.test(c)))
    t.ok(first, 'the version that set queues.capacity 16, with its diff')
    const alice = createBrokerClient(sp.node.soapUrl, { subject: 'alice' })
    await alice.ApplyPolicy({ policyYaml: doc('  queues: { capacity: 40 }\n') }, { timeoutMs: 10_000 })
    const h = await history()
    t.match(h.history[0], { version: h.version, who: 'alice', origin: 'ApplyPolicy' }, 'newest first, with who applied it')
    t.ok(Date.now() - h.history[0]!.atMs < 30_000, 'and when')
    const cli = await runCli(['policy', 'history', '--broker', sp.node.soapUrl], 30_000)
    t.equal(cli.code, 0, cli.stderr)
    t.match(cli.stdout, new RegExp(`v${h.version} .* by alice .*\\[in force\\]\\n\\s+queues\\.capacity: \\d+ -> 40`), 'mvm policy history')

    // the history outlives a restart of the super-peer, and versions count on
    // on the same SOAP port: the peer finds its super-peer again through the same bootstrap URL
    const port = Number(new URL(sp.node.soapUrl).port)
    await sp.stop()
    sp = createMvmHost({ dataDir: join(dir, 'sp'), roles: ['bootstrap', 'super-peer'], group: 'lab', soap: { port }, monitoring: HB, logger: silentLogger() })
    await sp.start(); hosts.push(sp)
    broker = createBrokerClient(sp.node.soapUrl)
    const after = await history()
    t.ok(after.history.some((v) => v.who === 'alice' && v.version === h.version), 'alice\'s version is still listed after the restart')
    t.ok(after.version > h.version, 'the restart is a version after it, not a count from 0')

    const back = await runCli(['policy', 'rollback', String(first!.version), '--broker', sp.node.soapUrl], 30_000)
    t.equal(back.code, 0, back.stderr)
    t.match(back.stdout, /queues\.capacity: 40 -> 16/, 'the rollback shows its change')
    await waitFor('the peer is back in the restarted group', async () => (await broker.ListNodes({})).nodes.some((n) => n.peerId === peer.node.peerId && n.state === 'up'), { timeoutMs: 15_000 })
    const { jobId } = await submit(broker, BARE)
    t.equal((sp.superPeer!.agent.broker.get(jobId).request.instance as { queue: { capacity: number } }).queue.capacity, 16, 'the next job gets the rolled-back setting')
    await t.rejects(broker.ApplyPolicy({ version: 99_999 }, { timeoutMs: 10_000 }), { code: 'E_NOT_FOUND', message: /no such version/ })
    t.equal((await waitJob(broker, jobId)).info.state, 'succeeded')
  })
})
