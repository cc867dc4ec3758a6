import t from 'tap'
import { join } from 'node:path'
import { createBrokerClient, createBootstrapClient, createNodeClient } from '@mvm/soap'
import { startNode, waitFor } from './lib/nodes.js'

t.test('bootstrap+super-peer and two peers form a group; a stopped peer is left', async (t) => {
  const sp = await startNode(t, 'sp', { roles: ['bootstrap', 'super-peer'], group: 'lab', monitoring: { heartbeatMs: 200, missedHeartbeats: 10 } })
  const brokers = await createBootstrapClient(sp.soapUrl).GetBrokers({ group: 'lab' }, { timeoutMs: 5000 })
  t.same(brokers.brokers.map((b) => b.peerId), [sp.peerId], 'the super-peer registered with its own bootstrap')

  const p1 = await startNode(t, 'p1', { bootstrap: [sp.soapUrl], group: 'lab', labels: { zone: 'a' }, capacity: { slots: 2 } })
  const p2 = await startNode(t, 'p2', { bootstrap: [sp.soapUrl], group: 'lab' })
  const broker = createBrokerClient(sp.soapUrl)
  const nodes = await waitFor('both peers up over SOAP', async () => {
    const res = await broker.ListNodes({ group: 'lab' }, { timeoutMs: 5000 })
    const up = res.nodes.filter((n) => n.state === 'up').map((n) => n.peerId)
    return up.includes(p1.peerId) && up.includes(p2.peerId) ? res.nodes : undefined
  })
  t.equal(nodes.length, 3, 'the super-peer and two peers')
  const n1 = nodes.find((n) => n.peerId === p1.peerId)!
  t.same(n1.labels, { zone: 'a' }, 'labels travel in Join')
  t.equal(n1.totalSlots, 2, 'capacity travels in heartbeats')
  t.equal(n1.soapUrl, p1.soapUrl)
  t.equal(p1.link()?.state, 'joined')
  t.equal(p1.link()?.superPeerId, sp.peerId)

  const one = await broker.GetNode({ peerId: p2.peerId }, { timeoutMs: 5000 })
  t.equal(one.state, 'up')
  await t.rejects(broker.GetNode({ peerId: 'nope' }, { timeoutMs: 5000 }), { code: 'E_NOT_FOUND' })

  const events: string[] = []
  sp.onPeerState((e) => { events.push(`${e.peerId}:${e.state}`) })
  await p1.stop()
  await waitFor('p1 left', async () => (await broker.GetNode({ peerId: p1.peerId }, { timeoutMs: 5000 })).state === 'left')
  t.ok(events.includes(`${p1.peerId}:left`), 'listeners hear about the leave')
  t.equal(sp.membership.get(p2.peerId)?.state, 'up', 'the other peer stays up')

  const status = await createNodeClient(p2.soapUrl).GetStatus({ timeoutMs: 5000 })
  t.equal(status.peerId, p2.peerId)
  t.same(status.roles, ['peer'])
  t.same((await createNodeClient(p2.soapUrl).ListProcesses({ timeoutMs: 5000 })).processes, [], 'no processes before jobs')
})

t.test('the peer ID is stable across restarts on the same data dir', async (t) => {
  const dir = join(t.testdir(), 'same')
  const { createMvmNode } = await import('@mvm/node')
  const a = createMvmNode({ dataDir: dir, roles: ['super-peer'] })
  await a.start()
  const id = a.peerId
  const b = createMvmNode({ dataDir: dir, roles: ['super-peer'] })
  await t.rejects(b.start(), { code: 'E_CONFIG' }, 'a second live node on the same data dir is refused')
  await a.stop()
  const c = createMvmNode({ dataDir: dir, roles: ['super-peer'] })
  await c.start()
  t.equal(c.peerId, id)
  await c.stop()
})

t.test('bad settings name the field', async (t) => {
  const { createMvmNode } = await import('@mvm/node')
  t.throws(() => createMvmNode({ dataDir: t.testdirName, roles: ['boss' as never] }), { code: 'E_CONFIG', message: /roles: unknown role "boss"/ })
  t.throws(() => createMvmNode({ dataDir: t.testdirName }), { code: 'E_CONFIG', message: /bootstrap/ })
  t.throws(() => createMvmNode({ dataDir: t.testdirName, roles: ['super-peer'], security: { authentication: 'peer-list' } }), { message: /admittedPeers/ })
})
