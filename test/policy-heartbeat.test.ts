import '@mvm/core/polyfill'
import t from 'tap'
import { silentLogger } from '@mvm/core'
import { createBrokerClient } from '@mvm/soap'
import { hostStarter, waitFor } from './lib/nodes.js'

// A live change of the heartbeat timing: a top super-peer (campus) with one child group (lab-a:
// a super-peer and a peer). Started with slow heartbeats, a policy applied at the top switches
// every link of the tree to a fast interval (and back) without a node going down.

const SLOW = { heartbeatMs: 1500, missedHeartbeats: 8 }
const FAST_MS = 200
const doc = (body: string): string => `apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: campus\nspec:\n  level: inter-domain\n${body}`

/** Heartbeats a super-peer received from its members since start (its /metrics). */
async function received (soapUrl: string): Promise<number> {
  const text = await (await fetch(`${soapUrl}/metrics`)).text()
  const m = /^mvm_heartbeats_received_total(?:\{[^}]*\})? (\d+)/m.exec(text)
  if (m === null) throw new Error('no mvm_heartbeats_received_total in /metrics')
  return Number(m[1])
}

t.test('a new monitoring interval applied at the top takes effect live on every link, no node going down', async (t) => {
  const start = hostStarter(t, t.testdir({}), SLOW)
  const top = await start('top', { roles: ['bootstrap', 'super-peer'], group: 'campus' })
  const boot = [top.node.soapUrl]
  const child = await start('child-a', { roles: ['super-peer'], group: 'lab-a', parentGroup: 'campus', bootstrap: boot })
  const peer = await start('peer-a', { roles: ['peer'], group: 'lab-a', bootstrap: boot })
  await waitFor('the child super-peer joined the top and the peer its group', () =>
    child.node.parentLink()?.state === 'joined' && peer.node.link()?.superPeerId === child.node.peerId, { timeoutMs: 30_000 })
  t.equal(peer.node.link()?.heartbeatMs, SLOW.heartbeatMs, 'the peer beats at the interval it joined with')

  // every state change from here on: none may be `down`
  const events: Array<{ at: string, peerId: string, state: string, reason?: string }> = []
  for (const [at, h] of [['top', top], ['child-a', child]] as const) {
    t.teardown(h.node.onPeerState((e) => { events.push({ at, peerId: e.peerId, state: e.state, reason: e.reason }) }))
  }
  const broker = createBrokerClient(top.node.soapUrl)

  t.test('faster: every link switches, the heartbeats arrive at the new rate', async (t) => {
    const applied = await broker.ApplyPolicy({ policyYaml: doc(`  monitoring: { intervalSec: ${FAST_MS / 1000}, missedHeartbeats: 10 }\n`) }, { timeoutMs: 30_000 })
    t.equal(applied.applied, true)
    await waitFor('both links beat at the new interval', () =>
      child.node.parentLink()?.heartbeatMs === FAST_MS && peer.node.link()?.heartbeatMs === FAST_MS, { timeoutMs: 20_000 })
    t.same(top.node.heartbeats.timing(), { heartbeatMs: FAST_MS, missedHeartbeats: 10 }, 'the top expects the new timing')
    t.same(child.node.heartbeats.timing(), { heartbeatMs: FAST_MS, missedHeartbeats: 10 }, 'the child super-peer, pushed the policy, too')
    // 10 heartbeats at the old interval take at least 13.5 s; at the new one about 2 s
    for (const [name, h] of [['child-a (from the peer)', child], ['top (from the child super-peer)', top]] as const) {
      const from = await received(h.node.soapUrl)
      const n = await waitFor(`10 more heartbeats at ${name} within 9 s`, async () => { const v = await received(h.node.soapUrl); return v >= from + 10 ? v : undefined }, { timeoutMs: 9000, intervalMs: 100 })
      t.ok(n >= from + 10, `${name}: ${n - from} heartbeats in the window`)
    }
    t.same(events.filter((e) => e.state === 'down'), [], 'no node went down during the switch')
  })

  t.test('slower again: links follow, detection widens first', async (t) => {
    await broker.ApplyPolicy({ policyYaml: doc(`  monitoring: { intervalSec: ${SLOW.heartbeatMs / 1000}, missedHeartbeats: 3 }\n`) }, { timeoutMs: 30_000 })
    await waitFor('both links beat at the slow interval again', () =>
      child.node.parentLink()?.heartbeatMs === SLOW.heartbeatMs && peer.node.link()?.heartbeatMs === SLOW.heartbeatMs, { timeoutMs: 20_000 })
    t.same(child.node.heartbeats.timing(), { heartbeatMs: SLOW.heartbeatMs, missedHeartbeats: 3 })
    // two slow heartbeats seen at each super-peer: the members beat slowly and are still up
    for (const h of [child, top]) {
      const from = await received(h.node.soapUrl)
      await waitFor('two more heartbeats', async () => await received(h.node.soapUrl) >= from + 2, { timeoutMs: 15_000, intervalMs: 200 })
    }
    t.equal(child.node.membership.get(peer.node.peerId)?.state, 'up', 'the peer is up in its group')
    t.equal(top.node.membership.get(child.node.peerId)?.state, 'up', 'the child super-peer is up at the top')
    t.same(events.filter((e) => e.state === 'down'), [], 'no node went down during either switch')
  })
})

t.test('while members switch, detection keeps the wider bound; then the new one', async (t) => {
  const { Membership } = await import('../packages/node/src/membership.js')
  const m = new Membership({ group: 'g', heartbeatMs: 100, missedHeartbeats: 4, log: silentLogger(), self: () => ({ peerId: 'sp', group: 'g', roles: ['super-peer'], labels: {}, multiaddrs: [], state: 'up', lastSeen: Date.now(), report: { load: 0, freeSlots: 0, totalSlots: 0, freeMemoryMb: 0 } }) as never })
  m.start()
  t.teardown(() => { m.stop() })
  m.join({ peerId: 'p', group: 'g', roles: ['peer'], labels: {}, multiaddrs: [] } as never)
  // narrowed from 400 ms to 60 ms: a member that has not switched yet (silent for 200 ms) stays up
  t.match(m.retime({ heartbeatMs: 20, missedHeartbeats: 3 }), { from: { heartbeatMs: 100, missedHeartbeats: 4 }, to: { heartbeatMs: 20, missedHeartbeats: 3 } })
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(m.get('p')?.state, 'up', 'silent 200 ms, under the old bound (400 ms): still up')
  await waitFor('silence past the old bound marks it down', () => m.get('p')?.state === 'down', { timeoutMs: 5000 })
  t.equal(m.heartbeatMs, 20, 'joining members are told the new interval')
  t.equal(m.retime({ heartbeatMs: 20, missedHeartbeats: 3 }), undefined, 'the same timing again: no change')
})
