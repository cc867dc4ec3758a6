import t from 'tap'
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

t.test('namespace availability is reported with a reason either way', async (t) => {
  const a = await sandboxDrivers.resolve('namespace').available()
  t.type(a.ok, 'boolean')
  if (!a.ok) t.match(a.reason, /\S/, `reason: ${a.reason}`)
  else await t.resolves(resolveDriver('namespace'))
})
