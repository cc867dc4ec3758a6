import t from 'tap'
import { writeFile } from 'node:fs/promises'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateKey } from '@mvm/node'
import { startNode, waitFor } from './lib/nodes.js'

t.test('peer-list: an admitted peer joins, another is refused with a reason', async (t) => {
  const dir = t.testdir()
  const { key } = await loadOrCreateKey(`${dir}/good`)
  const goodId = peerIdFromPrivateKey(key).toString()
  const sp = await startNode(t, 'sp', {
    roles: ['bootstrap', 'super-peer'], group: 'g', monitoring: { heartbeatMs: 200 },
    security: { authentication: 'peer-list', admittedPeers: [goodId] }
  })
  const bad = await startNode(t, 'bad', { bootstrap: [sp.soapUrl], group: 'g' })
  const good = await startNode(t, 'good', { bootstrap: [sp.soapUrl], group: 'g', dataDir: `${dir}/good` })
  t.equal(good.peerId, goodId)
  await waitFor('the admitted peer joined', () => good.link()?.state === 'joined')
  const refused = await waitFor('the other peer refused', () => bad.link()?.state === 'refused' ? bad.link() : undefined)
  t.match(refused.reason, /not in security\.admittedPeers/)
  t.equal(sp.membership.get(bad.peerId), undefined, 'a refused peer is not in the view')
  t.equal(sp.membership.get(goodId)?.state, 'up')
})

t.test('domain-key: the right key joins, a wrong key is refused', async (t) => {
  const dir = t.testdir()
  await writeFile(`${dir}/domain.key`, 'correct horse battery staple 42\n')
  await writeFile(`${dir}/wrong.key`, 'not the domain key at all, sorry\n')
  const sp = await startNode(t, 'sp', {
    roles: ['bootstrap', 'super-peer'], group: 'g',
    security: { authentication: 'domain-key', domainKeyFile: `${dir}/domain.key` }
  })
  const good = await startNode(t, 'good', { bootstrap: [sp.soapUrl], group: 'g', security: { domainKeyFile: `${dir}/domain.key` } })
  const wrong = await startNode(t, 'wrong', { bootstrap: [sp.soapUrl], group: 'g', security: { domainKeyFile: `${dir}/wrong.key` } })
  const none = await startNode(t, 'none', { bootstrap: [sp.soapUrl], group: 'g' })
  await waitFor('good joined', () => good.link()?.state === 'joined')
  const r1 = await waitFor('wrong refused', () => wrong.link()?.state === 'refused' ? wrong.link() : undefined)
  t.match(r1.reason, /wrong domain-key proof/)
  await waitFor('keyless refused', () => none.link()?.state === 'refused')
  t.same(sp.membership.view().map((m) => m.peerId).sort(), [sp.peerId, good.peerId].sort())
})

t.test('a peer asking for the wrong group is refused', async (t) => {
  const sp = await startNode(t, 'sp', { roles: ['super-peer'], group: 'g' })
  const p = await startNode(t, 'p', { bootstrap: [sp.multiaddrs[0]!], group: 'other' })
  const r = await waitFor('refused', () => p.link()?.state === 'refused' ? p.link() : undefined)
  t.match(r.reason, /serves group g, not other/)
})
