import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createServer, type AddressInfo } from 'node:net'
import { namespaceDriver, type Sandbox } from '@mvm/sandbox'
import { alive, ask, specFor, within } from './fixtures.js'
import type { Test } from 'tap'

const driver = namespaceDriver()
const availability = await driver.available()

async function start (t: Test, id: string, extra = {}): Promise<Sandbox> {
  const sb = await driver.spawn(specFor(t.testdir(), id, { readPaths: ['/proc'], ...extra }))
  t.teardown(async () => { await sb.kill('killed', { graceMs: 0 }) })
  return sb
}

t.test('availability is explained', async (t) => {
  t.type(availability.ok, 'boolean')
  t.match(availability.reason, /\S/, `namespace driver: ${availability.reason ?? ''}`)
})

if (!availability.ok) {
  t.test('namespace driver cases', { skip: `namespace driver not available: ${availability.reason ?? ''}` }, () => {})
} else {
  t.test('IPC works across the namespaces; only its own processes are visible', async (t) => {
    const sb = await start(t, 'ns-ipc')
    t.same((await ask(sb, { cmd: 'echo', data: [1, 2] })).echo, [1, 2])
    const { pid, procs } = await ask(sb, { cmd: 'procs' })
    t.equal(pid, 1, 'the rank is pid 1 of its own PID namespace')
    t.same(procs, [1], 'it sees no other process')
    t.not(sb.pid, 1, 'the host pid is reported')
    t.ok(alive(sb.pid))
  })

  t.test('only a downed loopback interface', async (t) => {
    const sb = await start(t, 'ns-net')
    const { ifaces } = await ask(sb, { cmd: 'net' })
    t.same(ifaces, ['lo'])
    // lo is down: look from the host into the rank's network namespace
    let link = ''
    try {
      link = execFileSync('nsenter', ['-t', String(sb.pid), '-n', 'ip', '-o', 'link', 'show'], { encoding: 'utf8', timeout: 5000 })
    } catch (e) { t.comment(`nsenter/ip unavailable: ${(e as Error).message}`) }
    if (link !== '') {
      t.equal(link.trim().split('\n').length, 1, 'one interface')
      t.match(link, /^1: lo: <LOOPBACK>/, 'lo without the UP flag')
    }
  })

  // issue 11 item 7: the node's SOAP and libp2p ports listen on the host's loopback, which is
  // another network namespace: a rank cannot reach them
  t.test('a rank cannot connect to a port listening on the host\'s loopback', async (t) => {
    let accepted = 0
    const server = createServer((s) => { accepted++; s.destroy() })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => { server.close() })
    const { port } = server.address() as AddressInfo
    const sb = await start(t, 'ns-connect')
    const { connect } = await ask(sb, { cmd: 'connect', port })
    t.not(connect, 'ok', `the connection fails inside the rank (${String(connect)})`)
    t.match(connect, /^(ENETUNREACH|ECONNREFUSED|EHOSTUNREACH|EADDRNOTAVAIL)$/, 'with a network error, not a timeout')
    t.equal(accepted, 0, 'the host listener saw no connection')
  })

  t.test('a fork loop makes no process inside either', async (t) => {
    const sb = await start(t, 'ns-fork')
    const r = await ask(sb, { cmd: 'fork-loop' })
    t.same(r, { made: 0, stop: 'ERR_ACCESS_DENIED', threads: 'ERR_ACCESS_DENIED', fork: 'ERR_ACCESS_DENIED' }, 'the permission model refuses each (and pids.max bounds the cgroup)')
  })

  t.test('the permission model still applies inside', async (t) => {
    const sb = await start(t, 'ns-perm')
    t.equal((await ask(sb, { cmd: 'read', path: '/etc/passwd' })).read, 'ERR_ACCESS_DENIED')
    t.equal((await ask(sb, { cmd: 'env' })).env.HOME, sb.workDir)
  })

  t.test('the kernel kills at the cgroup memory limit → memory', async (t) => {
    const sb = await start(t, 'ns-mem', { limits: { memoryMB: 64 } })
    await sb.send({ cmd: 'hog-rss' })
    const info = await within(sb.exited, 30_000, 'oom kill')
    t.equal(info.reason, 'memory', info.message)
    t.match(info.message, /kernel/)
    t.notOk(alive(sb.pid), 'reaped')
  })

  t.test('wall time, kill and reaping work through unshare', async (t) => {
    const sb = await start(t, 'ns-wall', { limits: { wallTimeSec: 1 } })
    await ask(sb, { cmd: 'sleep' })
    const info = await within(sb.exited, 15_000, 'wall kill')
    t.equal(info.reason, 'wall-time')
    t.notOk(alive(sb.pid), 'inner process gone')
    const sb2 = await start(t, 'ns-kill')
    await ask(sb2, { cmd: 'sleep' })
    const k = await within(sb2.kill('killed', { graceMs: 100 }), 15_000, 'kill')
    t.equal(k.reason, 'killed')
    t.notOk(alive(sb2.pid))
  })
}

if (availability.ok) {
  t.test('the warm pool works with the namespace driver and stop leaves nothing', async (t) => {
    const { createSandboxPool } = await import('@mvm/sandbox')
    const dir = t.testdir()
    const pool = createSandboxPool({ driver, entry: specFor(dir, 'x').entry, size: 1, baseDir: `${dir}/sbx`, logDir: `${dir}/logs`, limits: { memoryMB: 96 }, readPaths: ['/proc'] })
    t.teardown(async () => { await pool.stop() })
    await within(pool.ready(), 20_000, 'ready')
    const sb = await pool.acquire({ id: 'ns-warm', limits: { memoryMB: 96 } })
    t.equal(pool.stats().warmHits, 1)
    t.equal((await ask(sb, { cmd: 'procs' })).pid, 1)
    await within(pool.ready(), 20_000, 'refill')
    await within(pool.stop(), 20_000, 'stop')
    t.notOk(alive(sb.pid))
  })
}
