import t from 'tap'
import { execFileSync } from 'node:child_process'
import { accessSync, constants, existsSync } from 'node:fs'
import { resolveDriver, sandboxDrivers, type SandboxDriver } from '@mvm/sandbox'

t.test('built-in drivers are registered', async (t) => {
  t.ok(sandboxDrivers.has('process'))
  t.ok(sandboxDrivers.has('namespace'))
  const d = await resolveDriver('process')
  t.equal(d.name, 'process')
  t.equal((await resolveDriver()).name, 'process', 'process is the default')
})

t.test('an unknown driver name is a clear error', async (t) => {
  await t.rejects(resolveDriver('vmware'), { code: 'E_UNKNOWN_COMPONENT', message: /unknown sandbox driver "vmware"; known: namespace, process/ })
})

t.test('a driver this machine cannot provide stops the node with ConfigError', async (t) => {
  const missing: SandboxDriver = {
    name: 'gvisor',
    available: async () => ({ ok: false, reason: 'runsc is not installed' }),
    spawn: async () => { throw new Error('unreachable') }
  }
  await t.rejects(resolveDriver(missing), { code: 'E_CONFIG', message: 'sandbox driver "gvisor" is not available on this machine: runsc is not installed' })
  sandboxDrivers.register('gvisor-test', () => missing)
  await t.rejects(resolveDriver('gvisor-test'), { code: 'E_CONFIG' })
})

const uid = process.getuid?.()
const NAMESPACES = ['pid', 'net', 'ipc', 'uts', 'mnt']

function executable (file: string): boolean {
  try { accessSync(file, constants.X_OK); return true } catch { return false }
}

t.test('namespace availability matches this machine', async (t) => {
  const a = await sandboxDrivers.resolve('namespace').available()
  t.match(a.reason, /\S/, `namespace driver: ${a.reason ?? ''}`)
  if (process.platform !== 'linux') {
    t.equal(a.ok, false, 'unavailable off Linux')
    t.match(a.reason, /need Linux/)
    return
  }
  if (uid !== 0) {
    t.equal(a.ok, false, 'unavailable without root')
    t.match(a.reason, /need root/, 'the reason names the missing privilege')
    t.match(a.reason, `running as uid ${String(uid)}`, 'and the uid it runs as')
    await t.rejects(resolveDriver('namespace'), { code: 'E_CONFIG', message: /need root/ })
    return
  }
  // root: available, or the reason names what this kernel/machine lacks
  const missingNs = NAMESPACES.filter(n => !existsSync(`/proc/self/ns/${n}`))
  const missingBin = ['/usr/bin/unshare', '/bin/sh', '/usr/bin/env'].filter(b => !executable(b))
  if (a.ok) {
    t.same(missingNs, [], 'every namespace it unshares exists here')
    t.same(missingBin, [], 'every binary it runs exists here')
    t.match(a.reason, /^using cgroup v[12] at \//, 'the reason names the cgroup hierarchy in use')
    t.equal((await resolveDriver('namespace')).name, 'namespace')
  } else {
    t.notMatch(a.reason, /need root/, 'root is not what is missing')
    t.match(a.reason, /^(\S+ is missing|unshare --pid .* is denied here: .+|no usable cgroup hierarchy: .+)$/s, 'the reason names the missing feature')
    if (missingBin.length > 0) t.equal(a.reason, `${missingBin[0] ?? ''} is missing`)
    else if (missingNs.length > 0) t.match(a.reason, /is denied here/, `namespaces missing here: ${missingNs.join(', ')}`)
    await t.rejects(resolveDriver('namespace'), { code: 'E_CONFIG', message: `is not available on this machine: ${a.reason ?? ''}` })
  }
})

t.test('an unprivileged user is told the namespace driver needs root', { skip: process.platform !== 'linux' || uid !== 0 ? 'needs root on Linux to run a child as nobody (the test above covers this case when not root)' : false }, async (t) => {
  const code = `const { namespaceDriver } = await import(${JSON.stringify(import.meta.resolve('@mvm/sandbox'))}); process.stdout.write(JSON.stringify(await namespaceDriver().available()))`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { uid: 65534, gid: 65534, cwd: '/', encoding: 'utf8', timeout: 20_000 })
  const a = JSON.parse(out) as { ok: boolean, reason?: string }
  t.equal(a.ok, false, 'unavailable as uid 65534')
  t.match(a.reason, /need root; running as uid 65534/)
})
