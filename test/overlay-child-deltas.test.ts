import t from 'tap'
import { ChildReportSender, ChildViews, createMvmNode, type MemberInfo, type MvmNode } from '@mvm/node'
import type { ChildReport, NodeSummary } from '@mvm/wire'
import { startNode, waitFor } from './lib/nodes.js'

// Child reports go as deltas (only what changed since the last report on the channel); the
// parent's copy of the child's subtree must stay exact through joins, leaves, crashes and a
// parent restart, and at rest a report must not carry the subtree.

const report = (freeSlots: number): NodeSummary['report'] => ({ load: 0.1, freeSlots, totalSlots: 4, freeMemoryMb: 1000, processes: 0, queueDepth: 0, timestampMs: 1 })
const node = (id: string, freeSlots = 4): NodeSummary => ({ peerId: id, roles: ['peer'], soapUrl: `http://127.0.0.1:1/${id}`, report: report(freeSlots) })
const decoded = (r: ReturnType<ChildReportSender['next']>): ChildReport => ({ removed: [], count: 0, seq: 0, full: false, ...r } as ChildReport)

t.test('sender and parent copy: deltas, acks, a lost step asks for a full report', async (t) => {
  const s = new ChildReportSender()
  const v = new ChildViews(0)
  const totals = report(0)
  const ids = (): string[] => v.nodes().map((n: MemberInfo) => n.peerId).sort()
  let r = decoded(s.next('lab', 'sp', [node('a'), node('b')], totals))
  t.equal(r.full, true, 'the first report is full')
  let out = v.apply('sp', r)
  t.same(out.ack, { group: 'lab', seq: 1, resync: false }, 'a full report is acknowledged')
  r = decoded(s.next('lab', 'sp', [node('a'), node('b')], totals))
  t.equal(r.full, true, 'full again until the parent acknowledged one (an older parent never does)')
  s.onAck(out.ack!)
  v.apply('sp', r)
  r = decoded(s.next('lab', 'sp', [node('a'), node('b')], totals))
  t.equal(r.full, false)
  t.same([r.nodes.length, r.removed], [0, []], 'nothing changed: an empty delta')
  t.same(v.apply('sp', r), {}, 'an in-step delta needs no answer')
  r = decoded(s.next('lab', 'sp', [node('a', 3), node('c')], totals))
  t.same(r.nodes.map((n) => n.peerId).sort(), ['a', 'c'], 'a changed slot count and a new node are sent')
  t.same(r.removed, ['b'])
  v.apply('sp', r)
  t.same(ids(), ['a', 'c'])
  t.equal(v.nodes().find((n) => n.peerId === 'a')?.report.freeSlots, 3)
  const lost = decoded(s.next('lab', 'sp', [node('a', 2), node('c')], totals))
  t.equal(lost.full, false, 'a delta the parent never gets')
  r = decoded(s.next('lab', 'sp', [node('a', 2), node('c'), node('d')], totals))
  out = v.apply('sp', r)
  t.same(out.ack, { group: 'lab', seq: 0, resync: true }, 'a delta after a lost one asks for a full report')
  s.onAck(out.ack!)
  r = decoded(s.next('lab', 'sp', [node('a', 2), node('c'), node('d')], totals))
  t.equal(r.full, true, 'the child answers a resync with a full report')
  v.apply('sp', r)
  t.same(ids(), ['a', 'c', 'd'])
  t.equal(v.nodes().find((n) => n.peerId === 'a')?.report.freeSlots, 2)
  t.same(v.apply('sp', { group: 'lab', superPeerId: 'sp', nodes: [node('z')], totals, seq: 0, full: false, removed: [], count: 0 }), {}, 'an older sender (seq 0) is taken as a full list')
  t.same(ids(), ['z'])
  v.dropBy('sp')
  t.same(ids(), [], 'a child super-peer that is gone takes its subtree with it')
})

t.test('real nodes: the parent\'s copy stays exact through joins, leaves, a crash and a parent restart', async (t) => {
  const monitoring = { heartbeatMs: 200, missedHeartbeats: 8 }
  const boot = await startNode(t, 'boot', { roles: ['bootstrap'], group: 'boot' })
  const bootstrap = [boot.soapUrl]
  const rootInit = { roles: ['super-peer' as const], group: 'campus', bootstrap, monitoring, dataDir: `${t.testdirName}/root` }
  let root = createMvmNode(rootInit)
  await root.start()
  t.teardown(async () => { await root.stop() })
  const mid = await startNode(t, 'mid', { roles: ['super-peer'], group: 'lab', parentGroup: 'campus', bootstrap, monitoring })
  const peers: MvmNode[] = []
  const addPeer = async (i: number): Promise<MvmNode> => {
    const p = await startNode(t, `p${i}`, { group: 'lab', bootstrap, monitoring, capacity: { slots: 2 } })
    peers.push(p)
    return p
  }
  for (let i = 0; i < 6; i++) await addPeer(i)

  // what the child has up, and what the parent holds of it: ids with their slots
  const childSide = (): string => mid.membership.view().filter((n) => n.state === 'up').map((n) => `${n.peerId}:${n.report.totalSlots}`).sort().join(',')
  const parentSide = (): string => root.membership.view({ includeChildren: true }).filter((n) => n.viaChild === 'lab').map((n) => `${n.peerId}:${n.report.totalSlots}`).sort().join(',')
  const exact = async (what: string, members: number): Promise<void> => {
    await waitFor(`${what}: the parent holds exactly the child's subtree`, () => {
      const want = childSide()
      return want.split(',').length === members + 1 && parentSide() === want
    }, { timeoutMs: 30_000 })
    t.pass(`${what}: exact (${members} peers and the child super-peer)`)
  }
  await exact('joined', 6)

  // at rest a report carries no nodes: compare the bytes per control message the root receives
  const before = root.controlTraffic()
  const start = Date.now()
  await waitFor('10 heartbeat intervals at rest', () => Date.now() - start > 2000, { timeoutMs: 10_000 })
  const after = root.controlTraffic()
  const msgs = after.msgsIn - before.msgsIn
  const perMsg = (after.bytesIn - before.bytesIn) / Math.max(1, msgs)
  t.ok(msgs >= 4, `the root heard the child (${msgs} messages)`)
  // a full report of these 7 nodes is over 1 KB; a heartbeat and an empty delta are ~100-200 B each
  t.ok(perMsg < 250, `at rest the root receives ${Math.round(perMsg)} B per control message, not the subtree every time`)

  await addPeer(6)
  await exact('a peer joined', 7)
  await peers[0]!.stop()
  await exact('a peer left', 6)
  await peers[1]!.crash()
  await exact('a peer crashed', 5)

  const rootPeer = root.peerId
  await root.stop()
  await waitFor('the child sees its parent gone', () => mid.parentLink()?.state !== 'joined', { timeoutMs: 30_000 })
  root = createMvmNode(rootInit)
  await root.start()
  t.equal(root.peerId, rootPeer, 'the parent restarted with its key')
  t.equal(parentSide(), '', 'a restarted parent starts with no copy')
  await addPeer(7)
  await exact('after the parent restarted (full report on the new channel) and a join', 6)
})
