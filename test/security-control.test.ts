// Control messages by role: a joined member cannot send the orders only a super-peer gives, and
// a node that never joined cannot send anything but hello/join (overlay-robust covers garbage).
import t from 'tap'
import { startNode, waitFor } from './lib/nodes.js'

t.test('a member cannot order its super-peer\'s node around', async (t) => {
  // the super-peer also runs ranks: an Instantiate/Awaken/Terminate from a member would reach its peer role
  const sp = await startNode(t, 'sp', { roles: ['bootstrap', 'super-peer', 'peer'], group: 'g', monitoring: { heartbeatMs: 200 } })
  const reached: string[] = []
  for (const type of ['awaken', 'terminate', 'policyUpdate'] as const) sp.control.handle(type, () => { reached.push(type); return undefined })
  const member = await startNode(t, 'member', { bootstrap: [sp.soapUrl], group: 'g' })
  await waitFor('the member to join', () => sp.membership.get(member.peerId)?.state === 'up')
  const up = member.control.toSuperPeer()!
  await t.rejects(up.request({ type: 'awaken', jobId: 'j-evil' }, { timeoutMs: 5000 }), { code: 'E_FORBIDDEN', message: /awaken is sent by a super-peer/ }, 'Awaken from a member is refused')
  await t.rejects(up.request({ type: 'terminate', jobId: 'j-evil', reason: 'mine now' }, { timeoutMs: 5000 }), { code: 'E_FORBIDDEN' }, 'Terminate too')
  t.same(reached, [], 'no handler of the super-peer\'s node ran')
  t.equal(sp.membership.get(member.peerId)?.state, 'up', 'the member stays joined (it was refused, not dropped)')
})
