import t, { type Test } from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { processDriver, type Sandbox } from '@mvm/sandbox'
import { alive, ask, specFor, within } from './fixtures.js'

const driver = processDriver()

async function start (t: Test, id: string, extra = {}): Promise<{ sb: Sandbox, dir: string }> {
  const dir = t.testdir()
  const sb = await driver.spawn(specFor(dir, id, extra))
  t.teardown(async () => { await sb.kill('killed', { graceMs: 0 }) })
  return { sb, dir }
}

t.test('available on this machine', async (t) => {
  t.same(await driver.available(), { ok: true })
})

t.test('IPC echo, cwd is the private workDir', async (t) => {
  const { sb } = await start(t, 'echo1')
  const r = await ask(sb, { cmd: 'echo', data: { n: 42, s: 'hé' } })
  t.same(r.echo, { n: 42, s: 'hé' })
  t.equal(r.pid, sb.pid)
  t.equal(r.cwd, sb.workDir)
})

t.test('scrubbed environment', async (t) => {
  process.env.MVM_SECRET = 'hunter2'
  t.teardown(() => { delete process.env.MVM_SECRET })
  const { sb } = await start(t, 'env1', { env: { MVM_RANK: '3' } })
  const { env } = await ask(sb, { cmd: 'env' })
  t.equal(env.MVM_SECRET, undefined, 'parent secret not inherited')
  t.equal(env.HOME, sb.workDir, 'HOME is the workDir')
  t.equal(env.MVM_RANK, '3', 'given vars are passed')
  t.equal(env.PATH, process.env.PATH)
  const allowed = new Set(['PATH', 'LANG', 'TZ', 'NODE_ENV', 'HOME', 'MVM_RANK', 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE'])
  t.same(Object.keys(env).filter(k => !allowed.has(k)), [], 'nothing else')
})

t.test('passing the secret explicitly works', async (t) => {
  const { sb } = await start(t, 'env2', { env: { MVM_SECRET: 'given' } })
  t.equal((await ask(sb, { cmd: 'env' })).env.MVM_SECRET, 'given')
})

t.test('permission model: no reads or writes outside, no child processes', async (t) => {
  const { sb, dir } = await start(t, 'perm1')
  t.equal((await ask(sb, { cmd: 'read', path: '/etc/passwd' })).read, 'ERR_ACCESS_DENIED')
  t.equal((await ask(sb, { cmd: 'write', path: join(dir, 'outside.txt') })).write, 'ERR_ACCESS_DENIED')
  t.equal((await ask(sb, { cmd: 'write', path: join(sb.workDir, 'inside.txt') })).write, 'ok')
  t.equal((await ask(sb, { cmd: 'read', path: join(sb.workDir, 'inside.txt') })).read, 'ok')
  t.equal((await ask(sb, { cmd: 'spawn' })).spawn, 'ERR_ACCESS_DENIED')
})

// issue 11 item 7: the escapes the permission model contains, and the one it cannot (network)
t.test('a fork loop makes no process: children, fork and worker threads are all refused', async (t) => {
  const { sb } = await start(t, 'fork1')
  const r = await ask(sb, { cmd: 'fork-loop' })
  t.same(r, { made: 0, stop: 'ERR_ACCESS_DENIED', threads: 'ERR_ACCESS_DENIED', fork: 'ERR_ACCESS_DENIED' }, 'nothing started')
  t.ok(alive(sb.pid), 'the rank itself goes on')
})

t.test('not contained (documented): a rank can open TCP connections to the host\'s loopback ports', async (t) => {
  const server = createServer((s) => { s.destroy() })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.close() })
  const { port } = server.address() as AddressInfo
  const { sb } = await start(t, 'net1')
  t.equal((await ask(sb, { cmd: 'connect', port })).connect, 'ok', 'the process driver has no network isolation: the namespace driver does')
})

t.test('stdout and stderr go to log files', async (t) => {
  const { sb, dir } = await start(t, 'log1')
  await ask(sb, { cmd: 'log', text: 'hello' })
  await sb.send({ cmd: 'exit', code: 3 })
  const info = await within(sb.exited, 10_000, 'exit')
  t.match(info, { reason: 'exit', code: 3, signal: null })
  t.equal(await readFile(join(dir, 'logs', 'log1.out'), 'utf8'), 'out:hello\n')
  t.equal(await readFile(join(dir, 'logs', 'log1.err'), 'utf8'), 'err:hello\n')
  t.equal(sb.logs.out, join(dir, 'logs', 'log1.out'))
})

t.test('kill: SIGTERM then SIGKILL, reason killed, reaped', async (t) => {
  const { sb } = await start(t, 'kill1')
  await ask(sb, { cmd: 'sleep' })
  const pid = sb.pid
  t.ok(alive(pid))
  const info = await within(sb.kill('killed', { graceMs: 200 }), 10_000, 'kill')
  t.equal(info.reason, 'killed')
  t.equal(info.signal, 'SIGTERM')
  t.notOk(alive(pid), 'process is gone')
  t.same(await sb.exited, info, 'exited settles with the same info')
  await t.rejects(sb.send({ cmd: 'echo' }), { code: 'E_SANDBOX' })
})

t.test('bad specs are refused with the field named', async (t) => {
  const dir = t.testdir()
  await t.rejects(driver.spawn(specFor(dir, 'x', { entry: 'relative.js' })), { code: 'E_BAD_REQUEST', message: /entry/ })
  await t.rejects(driver.spawn(specFor(dir, '../evil')), { code: 'E_BAD_REQUEST', message: /id/ })
  await t.rejects(driver.spawn(specFor(dir, 'x', { env: { NODE_OPTIONS: '--allow-child-process' } })), { code: 'E_BAD_REQUEST', message: /env\.NODE_OPTIONS/ })
  await t.rejects(driver.spawn(specFor(dir, 'x', { limits: { memoryMB: -1 } })), { code: 'E_BAD_REQUEST', message: /limits\.memoryMB/ })
})

t.test('a missing entry exits with an error code, not a crash', async (t) => {
  const dir = t.testdir()
  const sb = await driver.spawn(specFor(dir, 'missing', { entry: join(dir, 'nope.mjs') }))
  const info = await within(sb.exited, 10_000, 'exit')
  t.equal(info.reason, 'exit')
  t.not(info.code, 0)
})

t.test('an aborted signal stops a spawn before it starts', async (t) => {
  const dir = t.testdir()
  await t.rejects(driver.spawn(specFor(dir, 'ab'), { signal: AbortSignal.abort() }), { code: 'E_ABORTED' })
})
