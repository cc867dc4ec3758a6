import t from 'tap'
import { createBrokerClient } from '@mvm/soap'
import { startNode, waitFor } from './lib/nodes.js'

t.test('two levels: the parent sees the child group through ChildReports', async (t) => {
  const root = await startNode(t, 'root', { roles: ['bootstrap', 'super-peer'], group: 'campus', monitoring: { heartbeatMs: 200 } })
  const child = await startNode(t, 'child', { roles: ['super-peer'], group: 'lab', parentGroup: 'campus', bootstrap: [root.soapUrl], monitoring: { heartbeatMs: 200 } })
  const peer = await startNode(t, 'peer', { bootstrap: [root.soapUrl], group: 'lab', capacity: { slots: 3 } })

  await waitFor('peer joined the child super-peer (found through bootstrap)', () => peer.link()?.superPeerId === child.peerId)
  await waitFor('child joined the parent', () => child.parentLink()?.state === 'joined')
  const broker = createBrokerClient(root.soapUrl)
  const all = await waitFor('the parent lists the child group\'s peer', async () => {
    const res = await broker.ListNodes({}, { timeoutMs: 5000 })
    return res.nodes.some((n) => n.peerId === peer.peerId) ? res.nodes : undefined
  })
  const p = all.find((n) => n.peerId === peer.peerId)!
  t.equal(p.group, 'lab')
  t.equal(p.totalSlots, 3)
  t.equal(all.find((n) => n.peerId === child.peerId && n.group === 'campus')?.state, 'up', 'the child super-peer is a member of the parent group')
  const labOnly = await broker.ListNodes({ group: 'lab' }, { timeoutMs: 5000 })
  t.same(labOnly.nodes.map((n) => n.peerId).sort(), [child.peerId, peer.peerId].sort(), 'group filter gives the child group')
  t.equal(root.membership.view({ includeChildren: false }).some((n) => n.peerId === peer.peerId), false, 'traffic is linear: the peer never joined the parent')

  await child.stop()
  await waitFor('child group forgotten when its super-peer leaves', async () =>
    !(await broker.ListNodes({}, { timeoutMs: 5000 })).nodes.some((n) => n.peerId === peer.peerId))
})
