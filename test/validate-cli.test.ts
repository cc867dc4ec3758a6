// Runs the real `mvm validate` binary (build first: npx tsc -b packages/cli).
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'packages', 'cli', 'bin', 'mvm.js')
const bad = path.join('test', 'fixtures', 'bad')

function mvm (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

const samples = [
  ...readdirSync(path.join(root, 'profiles')).filter((f) => f.endsWith('.yaml')).map((f) => path.join('profiles', f)),
  ...readdirSync(path.join(root, 'policies')).filter((f) => f.endsWith('.yaml')).map((f) => path.join('policies', f))
]

t.test('every sample profile and policy is valid', async (t) => {
  t.ok(samples.length >= 9, 'profiles and policies exist')
  const r = await mvm('validate', ...samples)
  t.equal(r.code, 0, r.stdout + r.stderr)
  for (const s of samples) t.match(r.stdout, `ok ${s} (`)
  t.match(r.stdout, 'ok profiles/primes.yaml (JobProfile primes)')
  t.match(r.stdout, 'ok policies/inter-domain.yaml (Policy inter-domain)')
})

t.test('a bad file exits 1 and prints file:line:col: message', async (t) => {
  const r = await mvm('validate', path.join(bad, 'profile-negative-memory.yaml'))
  t.equal(r.code, 1)
  t.match(r.stdout, `${path.join(bad, 'profile-negative-memory.yaml')}:10:15: spec.resources.memoryMB: expected an integer >= 1, got -2`)
})

t.test('one bad file among good ones: good ones still reported ok, exit 1', async (t) => {
  const r = await mvm('validate', 'profiles/ring.yaml', path.join(bad, 'topology-butterfly-6.yaml'))
  t.equal(r.code, 1)
  t.match(r.stdout, 'ok profiles/ring.yaml (JobProfile ring)')
  t.match(r.stdout, /topology-butterfly-6\.yaml:8:9: spec\.size: butterfly needs a power-of-two size/)
})

t.test('--param is applied and coerced; bad values and unknown names are errors', async (t) => {
  const ok = await mvm('validate', 'profiles/primes.yaml', '--param', 'n=500', '--param', 'processes=6')
  t.equal(ok.code, 0, ok.stdout)
  const badValue = await mvm('validate', 'profiles/primes.yaml', '--param', 'n=lots')
  t.equal(badValue.code, 1)
  t.match(badValue.stdout, /primes\.yaml:\d+:\d+: params\.n: parameter 'n' = "lots": expected an integer/)
  const unknown = await mvm('validate', 'profiles/primes.yaml', '--param', 'proceses=5')
  t.equal(unknown.code, 1)
  t.match(unknown.stdout, "unknown parameter 'proceses' (did you mean 'processes'?)")
})

t.test('--json prints an array of issues', async (t) => {
  const r = await mvm('validate', '--json', path.join(bad, 'wrong-kind.yaml'), path.join(bad, 'policy-bad-level.yaml'))
  t.equal(r.code, 1)
  const issues = JSON.parse(r.stdout) as Array<{ file: string, line: number, column: number, path: string, message: string }>
  t.equal(issues.length, 2)
  t.match(issues[0], { line: 2, column: 7, path: 'kind' })
  t.match(issues[1], { line: 6, path: 'spec.level', message: /got "global"/ })
  const good = await mvm('validate', '--json', 'policies/node.yaml')
  t.equal(good.code, 0)
  t.same(JSON.parse(good.stdout), [])
})

t.test('a missing file is reported, not a crash', async (t) => {
  const r = await mvm('validate', 'profiles/does-not-exist.yaml')
  t.equal(r.code, 1)
  t.match(r.stdout, 'profiles/does-not-exist.yaml:1:1: E_NOT_FOUND: file not found')
})

t.test('policies validated together show ignored enforced overrides as warnings', async (t) => {
  const dir = t.testdir({})
  const low = path.join(dir, 'low.yaml')
  writeFileSync(low, 'apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: low }\nspec:\n  level: node\n  security:\n    authentication: none\n')
  const r = await mvm('validate', 'policies/inter-domain.yaml', low)
  t.equal(r.code, 0, 'warnings do not fail validation')
  t.match(r.stdout, /low\.yaml:7:21: security\.authentication: warning: ignored: 'security\.authentication' is enforced by the inter-domain policy at policies\/inter-domain\.yaml:\d+/)
})
