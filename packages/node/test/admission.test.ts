import t from 'tap'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { domainProof, loadNodeSettings } from '@mvm/node'

t.test('domain proof binds the nonce and the peer id', async (t) => {
  const key = new TextEncoder().encode('0123456789abcdef0123')
  const a = domainProof(key, Uint8Array.of(1, 2, 3), 'peerA')
  t.equal(a.byteLength, 32)
  t.same(domainProof(key, Uint8Array.of(1, 2, 3), 'peerA'), a, 'deterministic')
  t.notSame(domainProof(key, Uint8Array.of(1, 2, 4), 'peerA'), a, 'another nonce, another proof')
  t.notSame(domainProof(key, Uint8Array.of(1, 2, 3), 'peerB'), a, 'another peer, another proof')
})

t.test('NodeConfig and Policy files map onto node settings', async (t) => {
  const dir = t.testdir({
    'node.yaml': [
      'apiVersion: mvm/v1', 'kind: NodeConfig', 'metadata: { name: n1 }', 'spec:',
      '  roles: [super-peer]', '  group: lab', '  capacity: { slots: 8 }', '  dataDir: state/n1', '  policy: policy.yaml', ''
    ].join('\n'),
    'policy.yaml': [
      'apiVersion: mvm/v1', 'kind: Policy', 'metadata: { name: p }', 'spec:', '  level: domain',
      '  monitoring: { intervalSec: 0.25, missedHeartbeats: 4 }',
      '  security: { authentication: domain-key, domainKeyFile: keys/domain.key }', ''
    ].join('\n')
  })
  // from another cwd, with a relative config path: the file's own paths still mean its folder
  const cwd = process.cwd()
  process.chdir(await mkdtemp(join(tmpdir(), 'mvm-cwd-')))
  let s
  try { s = await loadNodeSettings(relative(process.cwd(), `${dir}/node.yaml`)) } finally { process.chdir(cwd) }
  t.equal(s.init.dataDir, `${dir}/state/n1`, 'a relative dataDir in the config file is relative to that file, made absolute')
  t.same(s.policyFiles, [`${dir}/policy.yaml`])
  t.same(s.init.roles, ['super-peer'])
  t.equal(s.init.group, 'lab')
  t.equal(s.init.capacity?.slots, 8)
  t.same(s.init.monitoring, { heartbeatMs: 250, missedHeartbeats: 4 })
  t.equal(s.init.security?.authentication, 'domain-key')
  t.equal(s.init.security?.domainKeyFile, `${dir}/keys/domain.key`, 'relative to the policy file')
  await writeFile(`${dir}/bad.yaml`, 'apiVersion: mvm/v1\nkind: NodeConfig\nmetadata: { name: x }\nspec:\n  roles: [boss]\n')
  await t.rejects(loadNodeSettings(`${dir}/bad.yaml`), { code: 'E_VALIDATION', message: /bad\.yaml:5/ })
})
