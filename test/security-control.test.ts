// Control messages by role: a joined member cannot send the orders only a super-peer gives, and
// a node that never joined cannot send anything but hello/join (overlay-robust covers garbage);
// a node outside the group cannot Instantiate on the super-peer or on a member.
import '@mvm/core/polyfill'
import t from 'tap'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { CONTROL_PROTOCOL, controlChannel, createRpcPeer } from '@mvm/wire'
import { startNode, waitFor } from './lib/nodes.js'

t.test('a member cannot order its super-peer\'s node around', async (t) => {
  // the super-peer also runs ranks: an Instantiate/Awaken/Terminate from a member would reach its peer role
  const sp = await startNode(t, 'sp', { roles: ['bootstrap', 'super-peer', 'peer'], group: 'g', monitoring: { heartbeatMs: 200 } })
  const reached: string[] = []
  for (const type of ['awaken', 'terminate', 'policyUpdate'] as const) sp.control.handle(type, () => { reached.push(type); return undefined })
  const member = await startNode(t, 'member', { bootstrap: [sp.soapUrl], group: 'g' })
  // both sides: the super-peer lists the member up a moment before the member holds its channel
  await waitFor('the member to join', () => sp.membership.get(member.peerId)?.state === 'up' && member.control.toSuperPeer() !== undefined)
  const up = member.control.toSuperPeer()!
  await t.rejects(up.request({ type: 'awaken', jobId: 'j-evil' }, { timeoutMs: 5000 }), { code: 'E_FORBIDDEN', message: /awaken is sent by a super-peer/ }, 'Awaken from a member is refused')
  await t.rejects(up.request({ type: 'terminate', jobId: 'j-evil', reason: 'mine now' }, { timeoutMs: 5000 }), { code: 'E_FORBIDDEN' }, 'Terminate too')
  t.same(reached, [], 'no handler of the super-peer\'s node ran')
  t.equal(sp.membership.get(member.peerId)?.state, 'up', 'the member stays joined (it was refused, not dropped)')
})

t.test('a node outside the group cannot Instantiate', async (t) => {
  // both nodes run ranks: an Instantiate that got through would reach their handlers
  const sp = await startNode(t, 'sp2', { roles: ['bootstrap', 'super-peer', 'peer'], group: 'g', monitoring: { heartbeatMs: 200 } })
  const member = await startNode(t, 'member2', { bootstrap: [sp.soapUrl], group: 'g' })
  // both sides: the super-peer lists the member up a moment before the member holds its channel
  await waitFor('the member to join', () => sp.membership.get(member.peerId)?.state === 'up' && member.control.toSuperPeer() !== undefined)
  const reached: string[] = []
  sp.control.handle('instantiate', () => { reached.push('super-peer'); return undefined })
  member.control.handle('instantiate', () => { reached.push('member'); return undefined })
  const outsider = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
  t.teardown(async () => { await outsider.stop() })
  const order = { type: 'instantiate' as const, jobId: 'j-evil', spec: new TextEncoder().encode('{}'), bundle: [] }

  // to the super-peer: its control service answers only hello/join before an accepted join
  const stream = await outsider.dialProtocol(multiaddr(sp.multiaddrs[0]!), CONTROL_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
  const rpc = createRpcPeer(controlChannel(stream))
  t.teardown(async () => { await rpc.close({ signal: AbortSignal.timeout(2000) }).catch(() => {}) })
  await t.rejects(rpc.request(order, { timeoutMs: 5000 }), { code: 'E_NOT_ADMITTED', message: /instantiate before an accepted join/ }, 'Instantiate from a node that never joined is refused')

  // to a member: it takes orders only on the channel it dialed itself, so it serves no control protocol
  await t.rejects(outsider.dialProtocol(multiaddr(member.multiaddrs[0]!), CONTROL_PROTOCOL, { signal: AbortSignal.timeout(10_000) }), { name: 'UnsupportedProtocolError' }, 'a member refuses an inbound control stream (it serves no control protocol)')

  // and a joined member's Instantiate up its own channel is refused too
  await t.rejects(member.control.toSuperPeer()!.request(order, { timeoutMs: 5000 }), { code: 'E_FORBIDDEN', message: /instantiate is sent by a super-peer/ }, 'Instantiate from a member is refused')
  t.same(reached, [], 'no Instantiate handler ran on either node')
  t.equal(sp.membership.get(member.peerId)?.state, 'up', 'the group carries on')
})
