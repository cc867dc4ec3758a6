import '@mvm/core/polyfill'
import t from 'tap'
import { join } from 'node:path'
import { silentLogger } from '@mvm/core'
import { createMvmHost, type MvmHost } from '@mvm/node'
import { createBrokerClient } from '@mvm/soap'
import { ROOT, submit, waitJob } from './lib/lab.js'
import { waitFor } from './lib/nodes.js'

// Self-configuration under a real queue surge: a rule maps a long queue to the pack strategy;
// the broker switches when the surge has lasted, and back once it has drained (hysteresis).

const BARE = join(ROOT, 'test', 'fixtures', 'policies', 'bare-sleeper.yaml')
const HB = { heartbeatMs: 150, missedHeartbeats: 3 }
// fast monitoring rounds; heartbeats follow the interval live, so a loaded machine gets a wide miss bound
const POLICY = `apiVersion: mvm/v1
kind: Policy
metadata:
  name: adapt
spec:
  level: domain
  monitoring: { intervalSec: 0.1, missedHeartbeats: 30 }
  scheduling:
    strategy: least-loaded
    rules:
      - name: surge
        when: { queueLength: '>4' }
        use: { strategy: pack }
        enterRounds: 2
        exitRounds: 3
`

interface Switch { atMs: number, rule: string, from: string, to: string, reason: string, readings: { queueLength: number } }

t.test('a queue surge switches the strategy to pack, and the drain switches it back, each switch logged', async (t) => {
  const dir = t.testdir()
  const hosts: MvmHost[] = []
  t.teardown(async () => { for (const h of hosts.reverse()) await h.stop().catch(() => {}) })
  const sp = createMvmHost({ dataDir: join(dir, 'sp'), roles: ['bootstrap', 'super-peer'], group: 'lab', soap: { port: 0 }, monitoring: HB, logger: silentLogger() })
  await sp.start(); hosts.push(sp)
  const peer = createMvmHost({ dataDir: join(dir, 'p'), roles: ['peer'], group: 'lab', bootstrap: [sp.node.soapUrl], soap: { port: 0 }, monitoring: HB, capacity: { slots: 2 }, logger: silentLogger() })
  await peer.start(); hosts.push(peer)
  const broker = createBrokerClient(sp.node.soapUrl)
  await waitFor('the peer joined', async () => (await broker.ListNodes({})).nodes.some((n) => n.peerId === peer.node.peerId && n.state === 'up'))
  const agent = sp.superPeer!.agent
  const switches = async (): Promise<Switch[]> => (JSON.parse((await broker.GetPolicy({ timeoutMs: 10_000 })).policyJson) as { adaptations: Switch[] }).adaptations

  t.equal((await broker.ApplyPolicy({ policyYaml: POLICY }, { timeoutMs: 10_000 })).applied, true)
  await t.rejects(broker.ApplyPolicy({ policyYaml: POLICY.replace('strategy: pack', 'strategy: no-such') }, { timeoutMs: 10_000 }), { code: 'E_VALIDATION', message: /scheduling\.rules\[0\]\.use\.strategy/ }, 'a rule naming an unknown strategy is refused')
  t.equal(agent.broker.strategy(), 'least-loaded')

  // the surge: 8 jobs of 2 ranks on a peer of 2 slots: one runs, the rest wait
  const jobs: string[] = []
  for (let i = 0; i < 8; i++) jobs.push((await submit(broker, BARE, { ms: '250' })).jobId)
  await waitFor('the strategy switched to pack under the surge', () => agent.broker.strategy() === 'pack', { timeoutMs: 10_000 })
  const on = (await switches()).at(-1)!
  t.match(on, { rule: 'surge', from: 'least-loaded', to: 'pack' }, 'the switch is logged as an event')
  t.ok(on.readings.queueLength > 4, `with the reading that caused it (queue ${on.readings.queueLength})`)
  t.match(on.reason, /queueLength >4 \(2 rounds\)/)

  for (const j of jobs) t.equal((await waitJob(broker, j, 60_000)).info.state, 'succeeded')
  await waitFor('back to the policy strategy once the queue drained', () => agent.broker.strategy() === 'least-loaded', { timeoutMs: 10_000 })
  const all = await switches()
  t.equal(all.length, 2, 'exactly two switches: no flapping while the queue shrank past the threshold')
  t.match(all[1], { rule: 'surge', from: 'pack', to: 'least-loaded', reason: /no longer holds \(3 rounds\)/ })
})
