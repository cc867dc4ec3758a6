// Issue 17 item 1: a rank cannot signal its node. Run as root, each driver starts its ranks in a
// new session under an unprivileged uid (a test-only uid here, so kill(-1) can reach nothing of
// other tests running at the same time); the rank's attempts fail inside it, and this process
// (the "node") is still here to see it.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createSandboxPool, namespaceDriver, processDriver, type Sandbox, type SandboxDriver } from '@mvm/sandbox'
import { alive, ask, specFor, within, worker } from './fixtures.js'

const root = process.getuid?.() === 0

/** Real uid and session id of a host pid, as the kernel sees them. */
async function hostView (pid: number): Promise<{ uid: number, pgid: number, sid: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1])
  // fields after the ")" of the command name: state ppid pgrp session ...
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')
  return { uid, pgid: Number(stat[2]), sid: Number(stat[3]) }
}

async function ownGroup (): Promise<number> { return (await hostView(process.pid)).pgid }

async function start (t: Test, driver: SandboxDriver, id: string): Promise<Sandbox> {
  const sb = await driver.spawn(specFor(t.testdir(), id, { readPaths: ['/proc'] }))
  t.teardown(async () => { await sb.kill('killed', { graceMs: 0 }) })
  return sb
}

const drivers: Array<{ name: string, uid: number, make: () => SandboxDriver }> = [
  { name: 'process', uid: 61_001, make: () => processDriver({ runAsUser: 61_001 }) },
  { name: 'namespace', uid: 61_002, make: () => namespaceDriver({ runAsUser: 61_002 }) }
]

for (const d of drivers) {
  t.test(`${d.name} driver: a rank cannot signal the node`, { skip: root ? false : 'ranks change uid only when the node is root' }, async (t) => {
    const driver = d.make()
    const a = await driver.available()
    if (!a.ok) { t.pass(`skipped: ${d.name} driver not available here: ${a.reason ?? ''}`); return }
    const sb = await start(t, driver, `hostile-${d.name}`)
    await ask(sb, { cmd: 'echo', data: 1 })
    const host = await hostView(sb.pid)
    t.equal(host.uid, d.uid, `the rank runs as uid ${d.uid}, not root`)
    t.not(host.sid, (await hostView(process.pid)).sid, 'in a session of its own')
    t.not(host.pgid, await ownGroup(), 'and a process group other than the node\'s')

    // the namespace's pid 1 has ppid 0 (kill(0) would be its own group): it is told the host pid
    const parent = d.name === 'process' ? 'ppid' : process.pid
    for (const [what, pid] of [['its parent', parent], ['the node by pid', process.pid], ['the node\'s process group', -(await ownGroup())]] as const) {
      const r = await ask(sb, { cmd: 'kill', pid, sig: 'SIGKILL' })
      t.not(r.kill, 'ok', `SIGKILL to ${what} is refused inside the rank (${String(r.kill)})`)
    }
    // kill(-1) reports success whenever it found any process to try, even if every one said
    // EPERM: what counts is who is still alive afterwards (a root bystander, this process)
    const bystander = spawn('/bin/sleep', ['30'], { stdio: 'ignore' })
    t.teardown(() => { bystander.kill('SIGKILL') })
    await new Promise((resolve) => bystander.once('spawn', resolve))
    await ask(sb, { cmd: 'kill', pid: -1, sig: 'SIGKILL' })
    const state = (await readFile(`/proc/${bystander.pid!}/stat`, 'utf8')).split(') ')[1]!.split(' ')[0]
    t.ok(state !== 'Z' && bystander.signalCode === null, `kill(-1) from the rank left a root process alive (state ${String(state)})`)
    t.ok(alive(process.pid), 'the node is alive')
    t.same((await ask(sb, { cmd: 'echo', data: 2 })).echo, 2, 'and the rank still answers')

    // kill(0) reaches only the rank's own group: the rank dies, the node does not
    await sb.send({ cmd: 'kill', pid: 0, sig: 'SIGKILL' })
    const info = await within(sb.exited, 10_000, 'rank to end after kill(0)')
    t.equal(info.signal, 'SIGKILL', 'kill(0) killed the rank\'s own group')
    t.ok(alive(process.pid), 'the node survives kill(0) from a rank')
  })

  t.test(`${d.name} driver: a rank killed from outside is reported as an outside signal`, { skip: root ? false : 'needs root' }, async (t) => {
    const driver = d.make()
    if (!(await driver.available()).ok) { t.pass(`skipped: ${d.name} driver not available here`); return }
    const sb = await start(t, driver, `outside-${d.name}`)
    await ask(sb, { cmd: 'sleep' })
    process.kill(sb.pid, 'SIGKILL')
    const info = await within(sb.exited, 10_000, 'rank to end')
    t.match(info, { reason: 'signal', signal: 'SIGKILL', message: 'killed by SIGKILL (outside signal)' })
  })
}

t.test('the node still kills a rank it started (kill reaches the rank\'s group)', { skip: root ? false : 'needs root' }, async (t) => {
  const sb = await start(t, processDriver({ runAsUser: 61_001 }), 'nodekill')
  await ask(sb, { cmd: 'sleep' })
  const info = await within(sb.kill('killed', { graceMs: 0 }), 10_000, 'kill')
  t.match(info, { reason: 'killed' })
  t.notOk(alive(sb.pid), 'gone')
})

t.test('a parked process handed back to its owner keeps its uid and session', { skip: root ? false : 'needs root' }, async (t) => {
  const dir = t.testdir()
  const pool = createSandboxPool({ driver: processDriver({ runAsUser: 61_001 }), entry: worker, size: 0, baseDir: `${dir}/sbx`, logDir: `${dir}/logs`, reuseMax: 1 })
  t.teardown(async () => { await pool.stop() })
  const first = await pool.acquire({ id: 'reuse-a', limits: {}, owner: 'alice' })
  await ask(first, { cmd: 'echo', data: 0 })
  const before = await hostView(first.pid)
  t.ok(await pool.release(first, 'alice'), 'parked')
  const again = await pool.acquire({ id: 'reuse-b', limits: {}, owner: 'alice' })
  t.equal(again.pid, first.pid, 'the same process')
  t.same(await hostView(again.pid), before, 'same uid, group and session')
  t.not((await ask(again, { cmd: 'kill', pid: process.pid, sig: 'SIGKILL' })).kill, 'ok', 'still cannot signal the node')
  t.equal((await ask(again, { cmd: 'write', path: `${again.workDir}/x.txt` })).write, 'ok', 'its wiped work dir is still writable by it')
})

t.test('a bad runAsUser is refused when the driver is made, naming the option', async (t) => {
  for (const bad of [0, -5, 1.5, 'nobody'] as unknown[]) {
    t.throws(() => processDriver({ runAsUser: bad as number }), { code: 'E_CONFIG', message: /runAsUser/ }, `runAsUser ${String(bad)}`)
  }
  t.throws(() => namespaceDriver({ runAsUser: 61_002, runAsGroup: 0 }), { code: 'E_CONFIG', message: /runAsGroup/ })
  t.doesNotThrow(() => processDriver({ runAsUser: false }), 'false keeps the node\'s uid')
})
