import t from 'tap'
import { spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MVM_BIN } from '@mvm/cli'
import { ROOT } from './lib/lab.js'

// A peer whose node policy names a sandbox driver the machine cannot provide must refuse to
// start, saying why, rather than fail on the first job. `namespace` needs root: run the node
// as an unprivileged user to take it away.
const canDropRoot = process.getuid?.() === 0 && spawnSync('runuser', ['--help']).status === 0
t.test('a peer refuses to start with a sandbox driver it cannot provide', {
  skip: canDropRoot ? false : 'needs root and runuser to start a node as an unprivileged user'
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mvm-driver-'))
  chmodSync(dir, 0o777)
  const res = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, MVM_BIN, 'node', '--roles', 'peer', '--group', 'lab',
    '--bootstrap', 'http://127.0.0.1:1', '--data-dir', join(dir, 'peer'), '--policy', join(ROOT, 'test/fixtures/driver/namespace-node.yaml'),
    '--log-level', 'error'], { encoding: 'utf8', timeout: 30_000, cwd: dir })
  t.equal(res.signal, null, 'it exits by itself (not killed at the time limit)')
  t.equal(res.status, 1, 'with exit code 1')
  t.match(res.stderr, /E_CONFIG/, 'a configuration error')
  t.match(res.stderr, /namespace/, 'naming the driver')
  t.notMatch(res.stdout, /"event":"ready"/, 'it never reports ready')
})
