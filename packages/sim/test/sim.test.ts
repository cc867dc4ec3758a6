import t from 'tap'
import { Community, fanoutForDepth, groupTree, parseMix, runJobs, runSched, runSim, runSimSplit, splitGroups, waitFor } from '@mvm/sim'

t.test('the super-peer tree keeps every super-peer within its fanout', async (t) => {
  const tree = groupTree(100, 10)
  t.equal(tree.maxChildren, 10)
  t.equal(tree.depth, 2)
  t.equal(tree.parent[0], undefined)
  t.equal(tree.parent[11], 1)
  t.equal(fanoutForDepth(100, 1), 99)
  t.equal(groupTree(100, fanoutForDepth(100, 3)).depth <= 3, true)
  t.same(parseMix('1:100, 4:2000'), [{ ranks: 1, ms: 100 }, { ranks: 4, ms: 2000 }])
  t.throws(() => parseMix('1x100'), /ranks:ms/)
  // whole subtrees per process: every group once, the root in the first, a subtree never cut
  const split = splitGroups(tree, 2)
  t.same(split.flat().sort((a, b) => a - b), tree.names.map((_, i) => i))
  t.equal(split[0]![0], 0)
  t.ok(Math.abs(split[0]!.length - split[1]!.length) <= 11, `balanced: ${split[0]!.length} + ${split[1]!.length}`)
  for (let i = 11; i < 100; i++) t.equal(split.findIndex((g) => g.includes(i)), split.findIndex((g) => g.includes(tree.parent[i]!)), `g${i} runs with its parent`)
})

// one small community of real nodes for the whole run, measured as `mvm sim` does
t.test('mvm sim: 24 peers in 3 groups converge, report O(1) traffic per peer, run every job', async (t) => {
  const report = await runSim({
    peers: 24, groups: 3, fanout: 1, heartbeatMs: 500, missedHeartbeats: 5, slots: 2,
    jobs: 30, mix: parseMix('1:50,2:100,3:150'), churnPerMin: 0, windowMs: 900, timeoutMs: 60_000
  })
  t.equal(report.depth, 2, 'fanout 1 makes a chain of super-peers')
  t.ok(report.convergenceMs > 0 && report.convergenceMs < 60_000, `converged in ${report.convergenceMs} ms`)
  // a peer sends one heartbeat per interval: 2 msgs/s at 500 ms (fewer when timers slip on a loaded machine)
  const hb = 1000 / 500
  t.ok(report.steady.perPeer.msgsPerSec.mean > hb * 0.25 && report.steady.perPeer.msgsPerSec.mean < hb * 2, `per-peer msgs/s ${report.steady.perPeer.msgsPerSec.mean}`)
  t.ok(report.steady.perPeer.bytesPerSec.mean > 0)
  t.ok(report.steady.root.msgsPerSec > report.steady.perPeer.msgsPerSec.mean, 'the root hears its group and its child')
  t.equal(report.steady.bootstrapCallsPerSec < 5, true, 'the bootstrap is quiet at rest')
  t.equal(report.bootstrapCalls.GetBrokers !== undefined && report.bootstrapCalls.GetBrokers >= 24, true, 'each peer asked the bootstrap once')
  t.equal(report.jobs?.submitted, 30)
  t.equal(report.jobs?.succeeded, 30, 'every job succeeded')
  t.ok((report.jobs?.latencyMs.p50 ?? -1) >= 0)
  t.ok(report.memory.rssMB > 0)
})

t.test('a crashed peer is marked down, its job requeued and finished elsewhere', async (t) => {
  const dataDir = t.testdir()
  const c = new Community({ dataDir, peers: 6, groups: 1, fanout: 10, heartbeatMs: 200, missedHeartbeats: 3, slots: 1 })
  t.teardown(async () => { await c.stop() })
  await c.startServices()
  await c.addPeers(6)
  await waitFor(() => c.upByGroup()[0] === 6, 20_000, 'six members')
  const sp = c.superPeers[0]!.host.node
  const downs: Array<{ id: string, at: number }> = []
  sp.onPeerState((e) => { if (e.state === 'down') downs.push({ id: e.peerId, at: Date.now() }) })
  const broker = c.superPeers[0]!.host.superPeer!.agent.broker
  // six one-rank jobs of 1.5 s fill the six slots; one peer then crashes under its job
  const done = runJobs(c, 6, [{ ranks: 1, ms: 1500 }], { timeoutMs: 20_000 })
  await waitFor(() => broker.countByState().running === 6, 10_000, 'six jobs running')
  const victim = c.peers[0]!
  const id = victim.host.node.peerId
  const t0 = Date.now()
  await victim.host.node.crash()
  await waitFor(() => downs.some((d) => d.id === id), 5000, 'the crash detected')
  const detected = downs.find((d) => d.id === id)!.at - t0
  t.ok(detected <= 3 * 200 + 100, `detected in ${detected} ms, within the policy bound`)
  await c.removePeer(victim)
  c.peers.push(...(await c.addPeers(1)))
  const tally = await done
  t.equal(tally.succeeded, 6, 'no job lost')
  t.ok(tally.starts >= 7, `the crashed peer's job started again (${tally.starts} starts)`)
})

t.test('a super-peer refuses child super-peers past policy monitoring.maxChildGroups', async (t) => {
  const c = new Community({ dataDir: t.testdir(), peers: 0, groups: 3, fanout: 2, maxChildGroups: 1, heartbeatMs: 200, missedHeartbeats: 3, slots: 1 })
  t.teardown(async () => { await c.stop() })
  await c.startServices()
  const links = (): Array<string | undefined> => c.superPeers.slice(1).map((s) => s.host.node.parentLink()?.state)
  await waitFor(() => links().includes('joined') && links().includes('refused'), 10_000, 'one child joined, one refused')
  const refused = c.superPeers.slice(1).find((s) => s.host.node.parentLink()?.state === 'refused')!
  t.match(refused.host.node.parentLink()?.reason, /maxChildGroups: 1/)
  t.equal(c.superPeers[0]!.host.node.membership.view({ includeChildren: false }).filter((m) => m.roles.includes('super-peer')).length, 2, 'the root and its one child')
})

t.test('mvm sim --queued: passes timed at two queue lengths, fair share, a too-wide job placed in the group that can run it', async (t) => {
  const r = await runSched({
    groups: 3, fanout: 2, peersPerGroup: 2, slots: 1, queued: 300, baseline: 15, rankMs: 300, wide: 2,
    windowMs: 1500, heartbeatMs: 500, missedHeartbeats: 8, timeoutMs: 60_000
  })
  t.ok(r.full.queued >= 200, `the full queue was measured with ${r.full.queued} queued`)
  t.ok(r.full.dispatched > 0 && r.full.samples.length > 0, `${r.full.dispatched} jobs started from the full queue`)
  t.ok(r.baseline.passes > 0, 'passes were timed at the baseline')
  t.same(r.crossGroup.byGroup, { g2: 2 }, 'both 3-rank jobs (2 slots per group, 8 in g2) ran in g2, passed on by their own group')
  t.same(r.crossGroup.refused, [])
  // the minor user queued behind 90 % of the jobs still gets starts as slots free
  t.ok((r.fairShare.owners.minor?.starts ?? 0) > 0, `fair share: the minor user started ${r.fairShare.owners.minor?.starts} jobs, the major ${r.fairShare.owners.major?.starts}`)
})

t.test('a simulated node reports the load and memory of its own simulated ranks, not the shared process', async (t) => {
  const c = new Community({ dataDir: t.testdir(), peers: 1, groups: 1, fanout: 10, heartbeatMs: 200, missedHeartbeats: 5, slots: 2 })
  t.teardown(async () => { await c.stop() })
  await c.startServices()
  const [peer] = await c.addPeers(1)
  const id = peer!.host.node.peerId
  const sp = c.superPeers[0]!.host.node
  const seen = (): { load: number, freeMemoryMb: number } | undefined => sp.membership.get(id)?.report
  await waitFor(() => sp.membership.get(id)?.state === 'up', 20_000, 'the peer up')
  // the real sampler would give this process's CPU use (never exactly 0 while a test runs) and the host's free memory
  await waitFor(() => seen()?.load === 0, 10_000, 'load 0 at rest')
  t.equal(seen()?.freeMemoryMb, 2048, 'at rest the peer reports its simulated memory, all free')
  const done = runJobs(c, 1, [{ ranks: 2, ms: 4000 }], { timeoutMs: 30_000 })
  await waitFor(() => peer!.ranks.running === 2, 15_000, 'two simulated ranks running')
  await waitFor(() => seen()?.load === 2, 10_000, 'the super-peer told load 2 (one CPU per running rank)')
  t.equal(peer!.host.node.monitor.report().load, 2, 'the peer\'s own report says 2')
  t.ok((seen()?.freeMemoryMb ?? 2048) < 2048, `free memory fell with the ranks (${seen()?.freeMemoryMb} MB)`)
  t.equal((await done).succeeded, 1)
  await waitFor(() => seen()?.load === 0, 10_000, 'load back to 0 once the ranks ended')
  t.equal(peer!.ranks.running, 0)
})

t.test('a super-peer with a grandchild group sends its parent deltas at rest, not full reports', async (t) => {
  // a chain g0 ← g1 ← g2: g1 sees g2's super-peer twice (its own member, and in g2's report of
  // itself); sent twice, the parent's copy never matched the report's count and every report was full
  const c = new Community({ dataDir: t.testdir(), peers: 6, groups: 3, fanout: 1, heartbeatMs: 200, missedHeartbeats: 10, slots: 1 })
  t.teardown(async () => { await c.stop() })
  await c.startServices()
  await c.addPeers(6)
  await waitFor(() => c.rootSees() >= 6 + 2, 30_000, 'the root to see every node of the tree')
  const g1 = c.superPeers[1]!.host.node
  // g1 sends its parent a heartbeat and a child report per interval, and nothing to its own members at rest
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const a = g1.controlTraffic()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const b = g1.controlTraffic()
  const msgs = b.msgsOut - a.msgsOut
  const perMsg = (b.bytesOut - a.bytesOut) / msgs
  t.ok(msgs >= 4, `g1 sent ${msgs} messages in 2 s`)
  // a full report of g1's subtree (g1, g2 and their four peers) is over 600 B
  t.ok(perMsg < 150, `g1 sends ${Math.round(perMsg)} B per control message at rest`)
})

t.test('mvm sim --workers 2: a community split over two processes converges across them (a child super-peer joins its parent over TCP)', async (t) => {
  // g0 ← g1 ← g3 and g0 ← g2: g1's subtree runs in the second process, so g1 joins g0 over TCP and
  // the root sees g3's peers only through g1's reports
  const r = await runSimSplit({
    peers: 40, groups: 4, fanout: 2, heartbeatMs: 300, missedHeartbeats: 10, slots: 1,
    jobs: 12, mix: parseMix('1:50,2:100'), churnPerMin: 0, windowMs: 1200, timeoutMs: 60_000, workers: 2
  })
  t.equal(r.workers, 2)
  t.ok(r.convergenceMs > 0 && r.treeConvergenceMs >= r.convergenceMs, `converged in ${r.convergenceMs} ms, the root saw all 43 nodes at ${r.treeConvergenceMs} ms`)
  const hb = 1000 / 300
  t.ok(r.steady.perPeer.msgsPerSec.mean > hb * 0.25 && r.steady.perPeer.msgsPerSec.mean < hb * 2, `per-peer msgs/s ${r.steady.perPeer.msgsPerSec.mean}`)
  t.ok(r.steady.root.msgsPerSec > r.steady.perPeer.msgsPerSec.mean, 'the root hears its members and its children')
  t.ok(r.memory.rssMB > 0)
  // the jobs are split by groups (1 and 3 here): each process submits to its own brokers and the tallies add up
  t.equal(r.jobs?.submitted, 12, 'every job submitted, from both processes')
  t.equal(r.jobs?.succeeded, 12, 'every job succeeded')
  t.equal(r.jobs?.unfinished, 0)
  t.ok((r.jobs?.starts ?? 0) >= 12, `${r.jobs?.starts} starts seen`)
  t.ok(Number.isFinite(r.jobs?.latencyMs.p50) && (r.jobs?.latencyMs.max ?? -1) >= 0, 'latencies from both processes')
  await t.rejects(runSimSplit({ peers: 4, groups: 2, fanout: 1, heartbeatMs: 300, missedHeartbeats: 10, slots: 1, jobs: 5, mix: [], churnPerMin: 1, timeoutMs: 10_000, workers: 2 }), /one process only/)
})
