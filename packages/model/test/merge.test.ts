// mergePolicies on policies loaded from real files: level order, field-by-field override,
// enforcement (with warnings naming file and line), defaults, extends.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { DEFAULT_POLICY, loadPolicy, mergePolicies } from '@mvm/model'
import type { LoadedPolicy } from '@mvm/model'

function policy (dir: string, name: string, body: string): string {
  const f = path.join(dir, `${name}.yaml`)
  writeFileSync(f, `apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: ${name} }\nspec:\n${body}`)
  return f
}

t.test('nobody set anything: defaults', async (t) => {
  const dir = t.testdir({})
  const eff = mergePolicies([await loadPolicy(policy(dir, 'empty', '  level: node\n'))])
  t.same(eff.spec, DEFAULT_POLICY)
  t.same(eff.warnings, [])
  t.same(eff.sources, {})
  t.same(mergePolicies([]).spec, DEFAULT_POLICY)
})

t.test('node overrides domain overrides inter-domain, field by field, whatever the input order', async (t) => {
  const dir = t.testdir({})
  const top = await loadPolicy(policy(dir, 'top', '  level: inter-domain\n  monitoring: { intervalSec: 10, missedHeartbeats: 5 }\n  queues: { capacity: 10, encoding: raw }\n'))
  const dom = await loadPolicy(policy(dir, 'dom', '  level: domain\n  monitoring: { intervalSec: 4 }\n  queues: { capacity: 20 }\n'))
  const node = await loadPolicy(policy(dir, 'node', '  level: node\n  queues: { capacity: 30 }\n'))
  for (const order of [[top, dom, node], [node, dom, top], [dom, node, top]]) {
    const eff = mergePolicies(order)
    t.equal(eff.spec.monitoring.intervalSec, 4, 'domain beats inter-domain')
    t.equal(eff.spec.monitoring.missedHeartbeats, 5, 'untouched field kept from inter-domain')
    t.equal(eff.spec.queues.capacity, 30, 'node beats both')
    t.equal(eff.spec.queues.encoding, 'raw')
    t.equal(eff.spec.queues.type, DEFAULT_POLICY.queues.type, 'default fills the rest')
    t.match(eff.sources['queues.capacity'], { file: path.join(dir, 'node.yaml'), line: 6 })
    t.match(eff.sources['monitoring.missedHeartbeats'], { file: path.join(dir, 'top.yaml'), line: 6 })
  }
})

t.test('maps merge key by key; lists replace', async (t) => {
  const dir = t.testdir({})
  const top = await loadPolicy(policy(dir, 'top', '  level: inter-domain\n  security:\n    roles: { admin: ["*"], user: [job.submit] }\n    admittedPeers: [12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN]\n'))
  const dom = await loadPolicy(policy(dir, 'dom', '  level: domain\n  security:\n    roles: { user: [job.submit, job.cancel.own] }\n    admittedPeers: [12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F9iSwYntZ9WjHa]\n'))
  const eff = mergePolicies([top, dom])
  t.same(eff.spec.security.roles, { admin: ['*'], user: ['job.submit', 'job.cancel.own'] })
  t.same(eff.spec.security.admittedPeers, ['12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDMp4F9iSwYntZ9WjHa'])
})

t.test('enforced: a lower level cannot change the path or anything under it; a warning names file and line', async (t) => {
  const dir = t.testdir({})
  const top = await loadPolicy(policy(dir, 'top', '  level: inter-domain\n  enforced: [security, scheduling.strategy]\n  security: { authentication: domain-key, domainKeyFile: k.key }\n  scheduling: { strategy: pack }\n'))
  const dom = await loadPolicy(policy(dir, 'dom', '  level: domain\n  scheduling:\n    strategy: spread\n    options: { backfill: false }\n'))
  const node = await loadPolicy(policy(dir, 'node', '  level: node\n  security:\n    authentication: none\n'))
  const eff = mergePolicies([node, dom, top])
  t.equal(eff.spec.security.authentication, 'domain-key')
  t.equal(eff.spec.scheduling.strategy, 'pack')
  t.same(eff.spec.scheduling.options, { backfill: false }, 'a sibling of an enforced field is still free')
  t.equal(eff.warnings.length, 2)
  const [w1, w2] = [...eff.warnings].sort((a, b) => a.file.localeCompare(b.file))
  t.match(w1, { file: path.join(dir, 'dom.yaml'), line: 7, path: 'scheduling.strategy', message: /enforced by the inter-domain policy at .*top\.yaml:6/ })
  t.match(w2, { file: path.join(dir, 'node.yaml'), line: 7, path: 'security.authentication', message: /'security' is enforced/ })
  t.match(eff.enforced, { security: { line: 6 }, 'scheduling.strategy': { line: 6 } })
})

t.test('enforced binds only lower levels; the same level may still override; domain enforcement binds nodes', async (t) => {
  const dir = t.testdir({})
  const d1 = await loadPolicy(policy(dir, 'd1', '  level: domain\n  enforced: [sandbox.driver]\n  sandbox: { driver: namespace }\n'))
  const d2 = await loadPolicy(policy(dir, 'd2', '  level: domain\n  sandbox: { driver: process }\n'))
  const n = await loadPolicy(policy(dir, 'n', '  level: node\n  sandbox: { driver: namespace, poolSize: 7 }\n'))
  const eff = mergePolicies([d1, d2])
  t.equal(eff.spec.sandbox.driver, 'process', 'a later policy of the same level wins')
  t.same(eff.warnings, [])
  const eff2 = mergePolicies([d1, n])
  t.equal(eff2.spec.sandbox.driver, 'namespace')
  t.equal(eff2.spec.sandbox.poolSize, 7)
  const eff3 = mergePolicies([d1, d2, n])
  t.equal(eff3.spec.sandbox.driver, 'process', 'node attempt ignored; domain value stays')
  t.equal(eff3.warnings.length, 1)
})

t.test('enforcing a path nobody set locks the default', async (t) => {
  const dir = t.testdir({})
  const top = await loadPolicy(policy(dir, 'top', '  level: inter-domain\n  enforced: [faultTolerance.maxRestarts]\n'))
  const node = await loadPolicy(policy(dir, 'node', '  level: node\n  faultTolerance: { maxRestarts: 9, recovery: fail }\n'))
  const eff = mergePolicies([top, node])
  t.equal(eff.spec.faultTolerance.maxRestarts, DEFAULT_POLICY.faultTolerance.maxRestarts)
  t.equal(eff.spec.faultTolerance.recovery, 'fail')
  t.equal(eff.warnings.length, 1)
})

t.test('extends: parent settings underneath, child wins, enforced lists unite', async (t) => {
  const dir = t.testdir({})
  policy(dir, 'base', '  level: domain\n  enforced: [queues]\n  queues: { capacity: 5, type: priority }\n  monitoring: { intervalSec: 9 }\n')
  const child = await loadPolicy(policy(dir, 'child', '  level: domain\n  extends: base.yaml\n  enforced: [monitoring]\n  queues: { capacity: 6 }\n'))
  t.same(child.extendsFiles, [path.join(dir, 'base.yaml')])
  t.same([...child.spec.enforced].sort(), ['monitoring', 'queues'])
  t.match(child.spec.queues, { capacity: 6, type: 'priority' })
  t.match(child.sources['queues.type'], { file: path.join(dir, 'base.yaml') })
  t.match(child.sources['queues.capacity'], { file: path.join(dir, 'child.yaml') })
  const node = await loadPolicy(policy(dir, 'node', '  level: node\n  queues: { capacity: 100 }\n  monitoring: { intervalSec: 1 }\n'))
  const eff = mergePolicies([child, node])
  t.equal(eff.spec.queues.capacity, 6)
  t.equal(eff.spec.monitoring.intervalSec, 9)
  t.equal(eff.warnings.length, 2)
})

t.test('the sample policies merge with no warnings and exercise every section', async (t) => {
  const ps: LoadedPolicy[] = []
  for (const f of ['inter-domain', 'domain-lab', 'node']) ps.push(await loadPolicy(path.join('policies', `${f}.yaml`)))
  const eff = mergePolicies(ps)
  t.same(eff.warnings, [])
  t.equal(eff.spec.security.authentication, 'peer-list')
  t.equal(eff.spec.sandbox.defaults.memoryMB, 512)
  t.equal(eff.spec.sandbox.defaults.wallTimeSec, 1800)
  t.equal(eff.spec.queues.capacity, 128)
  t.equal(eff.spec.scheduling.reservations.length, 1)
  for (const s of ['scheduling', 'security', 'monitoring', 'faultTolerance', 'queues', 'sandbox']) {
    t.ok(Object.keys(eff.sources).some((k) => k.startsWith(s + '.')), `${s} set by a sample`)
  }
})

t.test('settings nothing acts on are refused by name, with why, not parsed and ignored', async (t) => {
  const dir = t.testdir({})
  await t.rejects(loadPolicy(policy(dir, 'metrics', '  level: domain\n  monitoring:\n    intervalSec: 2\n    metrics: [load]\n')),
    { code: 'E_VALIDATION', message: /metrics\.yaml:8.*monitoring\.metrics is not supported: every node reports all of load, freeSlots/s })
  await t.rejects(loadPolicy(policy(dir, 'ckpt', '  level: domain\n  faultTolerance: { checkpointIntervalSec: 60 }\n')),
    { code: 'E_VALIDATION', message: /faultTolerance\.checkpointIntervalSec is not supported: a rank checkpoints when its program calls ctx\.checkpoint/ })
  await t.rejects(loadPolicy(policy(dir, 'enf', '  level: domain\n  enforced: [monitoring.metrics]\n')), { code: 'E_VALIDATION' }, 'nor can they be enforced')
})
