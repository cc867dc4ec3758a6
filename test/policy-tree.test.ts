import '@mvm/core/polyfill'
import t from 'tap'
import { join } from 'node:path'
import { createBrokerClient, type BrokerClient } from '@mvm/soap'
import { runCli } from './lib/lab.js'
import { hostStarter, waitFor } from './lib/nodes.js'

// A three-level lab: a top super-peer (group campus) with two child groups (lab-a, lab-b), each
// with a super-peer and one peer. A policy applied at the top must reach every node, with its
// version, and `enforced` settings must win over the children's own files.

const doc = (name: string, level: string, body: string): string =>
  `apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: ${name}\nspec:\n  level: ${level}\n${body}`

interface Origin { file: string, line: number, level: string, version: number, group?: string }
interface State { peerId?: string, group: string, version: number, policy: { spec: { scheduling: { strategy: string }, queues: { capacity: number }, faultTolerance: { maxRestarts: number }, sandbox: { poolSize: number, defaults: { wallTimeSec: number } } }, origins: Record<string, Origin>, warnings: Array<{ path: string }> } }

const HB = { heartbeatMs: 150, missedHeartbeats: 3 }
const PROPAGATION_MS = 5000

t.test('a policy applied at the top reaches every node of both child groups, enforced, and a rejoining node', async (t) => {
  const dir = t.testdir({
    'lab-a.yaml': doc('lab-a', 'domain', '  scheduling: { strategy: spread }\n  queues: { capacity: 32 }\n'),
    'peer-a.yaml': doc('peer-a', 'node', '  sandbox: { poolSize: 1 }\n  queues: { capacity: 16 }\n')
  })
  const start = hostStarter(t, dir, HB)
  const top = await start('top', { roles: ['bootstrap', 'super-peer'], group: 'campus' })
  const boot = [top.node.soapUrl]
  const childA = await start('child-a', { roles: ['super-peer'], group: 'lab-a', parentGroup: 'campus', bootstrap: boot, policyFiles: [join(dir, 'lab-a.yaml')] })
  const childB = await start('child-b', { roles: ['super-peer'], group: 'lab-b', parentGroup: 'campus', bootstrap: boot })
  const peerA = await start('peer-a', { roles: ['peer'], group: 'lab-a', bootstrap: boot, capacity: { slots: 2 }, labels: { gpu: 'yes' }, policyFiles: [join(dir, 'peer-a.yaml')] })
  let peerB = await start('peer-b', { roles: ['peer'], group: 'lab-b', bootstrap: boot, capacity: { slots: 2 } })
  const peerBId = peerB.node.peerId
  await waitFor('both child super-peers joined the top', () => childA.node.parentLink()?.state === 'joined' && childB.node.parentLink()?.state === 'joined')
  await waitFor('both peers joined their groups', () => peerA.node.link()?.superPeerId === childA.node.peerId && peerB.node.link()?.superPeerId === childB.node.peerId)

  const broker = createBrokerClient(top.node.soapUrl)
  const stateOf = async (b: BrokerClient, node: string): Promise<State> => JSON.parse((await b.GetPolicy({ timeoutMs: 10_000 }, { node })).policyJson) as State
  const topVersion = async (): Promise<number> => (JSON.parse((await broker.GetPolicy({ timeoutMs: 10_000 })).policyJson) as { version: number }).version

  const v1 = doc('campus', 'inter-domain', '  enforced: [queues.capacity]\n  scheduling: { strategy: pack }\n  queues: { capacity: 8 }\n  sandbox: { defaults: { wallTimeSec: 300 } }\n')
  const applied = await broker.ApplyPolicy({ policyYaml: v1 }, { timeoutMs: 10_000 })
  t.equal(applied.applied, true)
  const version1 = await topVersion()

  const t0 = Date.now()
  const everyNode = [childA.node.peerId, childB.node.peerId, peerA.node.peerId, peerBId]
  const states = await waitFor(`every node of both child groups runs top version ${version1}`, async () => {
    const s = await Promise.all(everyNode.map(async (n) => await stateOf(broker, n).catch(() => undefined)))
    return s.every((x) => x?.policy.origins['queues.capacity']?.version === version1 && x.policy.origins['queues.capacity']?.group === 'campus') ? s as State[] : undefined
  }, { timeoutMs: PROPAGATION_MS, intervalMs: 100 })
  t.ok(Date.now() - t0 < PROPAGATION_MS, `propagated to 4 nodes two levels down in ${Date.now() - t0} ms`)
  const [sa, sb, pa, pb] = states as [State, State, State, State]
  for (const [name, s] of [['child-a', sa], ['child-b', sb], ['peer-a', pa], ['peer-b', pb]] as const) {
    t.equal(s.policy.spec.queues.capacity, 8, `${name}: the enforced queues.capacity from the top`)
    t.match(s.policy.origins['queues.capacity'], { level: 'inter-domain', group: 'campus', version: version1, file: 'ApplyPolicy' }, `${name}: provenance of queues.capacity`)
    t.equal(s.policy.spec.sandbox.defaults.wallTimeSec, 300, `${name}: an unenforced top setting nobody overrides`)
  }
  t.equal(sa.policy.spec.scheduling.strategy, 'spread', 'child-a: its own domain file overrides an unenforced top setting')
  t.match(sa.policy.origins['scheduling.strategy'], { level: 'domain', group: 'lab-a', file: join(dir, 'lab-a.yaml') })
  t.ok(sa.policy.warnings.some((w) => w.path === 'queues.capacity'), 'child-a: its attempt to set the enforced capacity is reported')
  t.equal(sb.policy.spec.scheduling.strategy, 'pack', 'child-b has no file of its own: the top strategy')
  t.equal(pa.policy.spec.scheduling.strategy, 'spread', 'peer-a runs its group\'s domain layer over the top')
  t.equal(pa.policy.spec.sandbox.poolSize, 1, 'peer-a: its own node-level setting stays')
  t.match(pa.policy.origins['sandbox.poolSize'], { level: 'node', file: join(dir, 'peer-a.yaml') })
  t.equal(pa.group, 'lab-a')
  t.equal(peerA.peer?.agent.settings().poolSize, 1, 'the peer agent acts on the merged sandbox section')
  t.equal(peerB.peer?.agent.settings().poolSize, 2, 'peer-b: the default pool (nobody set one)')
  t.equal(pb.policy.origins['sandbox.poolSize']?.level, 'default')
  // a lower level cannot take an enforced field back: a domain policy applied on the child
  const childBroker = createBrokerClient(childB.node.soapUrl)
  const over = await childBroker.ApplyPolicy({ policyYaml: doc('lab-b', 'domain', '  queues: { capacity: 64 }\n  scheduling: { strategy: round-robin }\n') }, { timeoutMs: 10_000 })
  t.ok(over.warnings.some((w) => /queues\.capacity.*enforced/.test(w)), 'the child\'s override of the enforced field is reported')
  const pb2 = await waitFor('peer-b runs the child\'s domain change', async () => { const s = await stateOf(broker, peerBId); return s.policy.spec.scheduling.strategy === 'round-robin' ? s : undefined })
  t.equal(pb2.policy.spec.queues.capacity, 8, 'still the enforced capacity on peer-b')

  // the CLI shows a node of a child group through the top broker, field by field
  const cli = await runCli(['policy', 'show', '--effective', '--node', peerA.node.peerId, '--broker', top.node.soapUrl], 30_000)
  t.equal(cli.code, 0, cli.stderr)
  t.match(cli.stdout, new RegExp(`queues\\.capacity\\s+8\\s+inter-domain v${version1} campus ApplyPolicy:`), 'provenance per field')
  t.match(cli.stdout, /sandbox\.poolSize\s+1\s+node v\d+ .*peer-a\.yaml:\d+/)
  t.match(cli.stdout, /in group lab-a/)

  // a node that was down gets the current version when it rejoins
  await peerB.stop()
  await broker.ApplyPolicy({ policyYaml: v1.replace('capacity: 8', 'capacity: 4') }, { timeoutMs: 10_000 })
  const version2 = await topVersion()
  t.ok(version2 > version1)
  peerB = await start('peer-b', { roles: ['peer'], group: 'lab-b', bootstrap: boot, capacity: { slots: 2 } })
  t.equal(peerB.node.peerId, peerBId, 'same node identity after the restart')
  const back = await waitFor('the rejoined peer runs the new top version', async () => {
    const s = await stateOf(broker, peerBId).catch(() => undefined)
    return s?.policy.origins['queues.capacity']?.version === version2 ? s : undefined
  }, { timeoutMs: PROPAGATION_MS, intervalMs: 100 })
  t.equal(back.policy.spec.queues.capacity, 4)


  // scope: a top policy for group lab-b only, and a node-level policy for the nodes labelled gpu=yes
  await broker.ApplyPolicy({ policyYaml: doc('campus-b', 'inter-domain', '  scope: { groups: [lab-b] }\n  sandbox: { defaults: { wallTimeSec: 77 } }\n') }, { timeoutMs: 10_000 })
  const version3 = await topVersion()
  const childABroker = createBrokerClient(childA.node.soapUrl)
  await childABroker.ApplyPolicy({ policyYaml: doc('gpu', 'node', '  scope: { labels: { gpu: "yes" } }\n  faultTolerance: { maxRestarts: 7 }\n') }, { timeoutMs: 10_000 })
  const [sa3, sb3, pa3, pb3] = await waitFor('the scoped policies reached their nodes', async () => {
    const s = await Promise.all(everyNode.map(async (n) => await stateOf(broker, n)))
    return s[3]!.policy.origins['sandbox.defaults.wallTimeSec']?.version === version3 && s[2]!.policy.spec.faultTolerance.maxRestarts === 7 ? s : undefined
  }, { timeoutMs: PROPAGATION_MS, intervalMs: 100 })
  t.equal(pb3!.policy.spec.sandbox.defaults.wallTimeSec, 77, 'peer-b (group lab-b) takes the policy scoped to lab-b')
  t.equal(sb3!.policy.spec.sandbox.defaults.wallTimeSec, 77, 'so does child-b')
  t.equal(pa3!.policy.spec.sandbox.defaults.wallTimeSec, 3600, 'peer-a (group lab-a) does not')
  t.equal(sa3!.policy.spec.sandbox.defaults.wallTimeSec, 3600, 'nor child-a')
  t.equal(pa3!.policy.spec.queues.capacity, 16, 'the new top policy replaced the one enforcing capacity: peer-a\'s own node setting is back')
  t.match(pa3!.policy.origins['faultTolerance.maxRestarts'], { level: 'node', group: 'lab-a' }, 'peer-a (gpu=yes) takes the node policy scoped to its label')
  t.equal(sa3!.policy.spec.faultTolerance.maxRestarts, 3, 'child-a (no gpu label) does not')
})
