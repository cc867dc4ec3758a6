// The emulated LAN hosts of the data.transfer-lan row: two namespaces on a bridge with shaped
// links carry a TCP connection between their addresses, a process started with `ip netns exec`
// keeps its IPC channel, and teardown (or a failed setup) leaves no namespace behind. Needs
// root and iproute2; skipped with the reason otherwise.
import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createNetHosts, whyNot, type NetHosts } from '../src/netns.js'

const namespaces = (): string[] => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== '')

/** A node -e script inside a namespace, with an IPC channel; resolves its first message. */
function nodeIn (ns: string, code: string, children: ChildProcess[]): { child: ChildProcess, first: Promise<unknown> } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  children.push(child)
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d })
  const first = new Promise<unknown>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`${ns}: no message within 20 s: ${err}`)) }, 20_000)
    child.once('message', (m) => { clearTimeout(timer); resolve(m) })
    child.once('exit', (c) => { clearTimeout(timer); reject(new Error(`${ns}: exited (${String(c)}) before its message: ${err}`)) })
  })
  return { child, first }
}

const skip = whyNot()
t.test('two emulated hosts with 1 Gbit/s links', { skip: skip ?? false, timeout: 60_000 }, async (t) => {
  const children: ChildProcess[] = []
  let net: NetHosts | undefined
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await net?.teardown()
  })
  const rootLinks = (): string => spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(':')[1]?.trim() ?? '').join(' ')
  const rootBefore = rootLinks()
  net = await createNetHosts({ count: 2 })
  const [a, b] = net.hosts as [typeof net.hosts[0], typeof net.hosts[0]]
  t.not(a.ns, b.ns)
  t.not(a.ip, b.ip)
  const ours = [a.ns, b.ns, net.switchNs]
  t.ok(ours.every((n) => namespaces().includes(n)), 'the three namespaces exist')

  for (const [ns, dev] of [[a.ns, a.dev], [net.switchNs, 'p0'], [b.ns, b.dev], [net.switchNs, 'p1']] as const) {
    const q = spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'show', 'dev', dev], { encoding: 'utf8' }).stdout
    t.match(q, /qdisc tbf .*rate 1Gbit/, `${ns} ${dev} is shaped by tbf at 1 Gbit/s`)
  }

  // 1 MiB from a to b over TCP between the two namespaces' addresses; b counts what arrives
  const size = 1024 * 1024
  const server = nodeIn(b.ns, `
    const net = require('node:net')
    const s = net.createServer((c) => { let n = 0; c.on('data', (d) => { n += d.length }); c.on('end', () => { process.send({ got: n }, () => process.exit(0)) }) })
    s.listen(0, ${JSON.stringify(b.ip)}, () => { process.send({ port: s.address().port }) })
  `, children)
  const { port } = await server.first as { port: number }
  t.ok(port > 0, 'the server in host b answered over IPC through ip netns exec')
  const got = new Promise<unknown>((resolve) => { server.child.on('message', (m: { got?: number }) => { if (m.got !== undefined) resolve(m.got) }) })
  const client = nodeIn(a.ns, `
    const c = require('node:net').connect(${port}, ${JSON.stringify(b.ip)}, () => { c.end(Buffer.alloc(${size}, 7)) })
    c.on('close', () => { process.send({ sent: true }, () => process.exit(0)) })
    c.on('error', (e) => { process.send({ error: e.message }, () => process.exit(1)) })
  `, children)
  t.same(await client.first, { sent: true }, 'host a connected to host b and sent')
  t.equal(await got, size, 'host b received every byte')
  const stats = spawnSync('ip', ['netns', 'exec', a.ns, 'tc', '-s', 'qdisc', 'show', 'dev', a.dev], { encoding: 'utf8' }).stdout
  const sent = Number(/Sent (\d+) bytes/.exec(stats)?.[1] ?? 0)
  t.ok(sent >= size, `the bytes went through host a's shaper (${sent} bytes)`)

  t.equal(rootLinks(), rootBefore, 'the root namespace has the same links as before')

  await net.teardown()
  t.ok(ours.every((n) => !namespaces().includes(n)), 'teardown removed every namespace')
})

t.test('a failed setup removes what it made', { skip: skip ?? false, timeout: 30_000 }, async (t) => {
  // only this process's namespaces (their names carry its pid): other files may build theirs meanwhile
  const ours = (): string[] => namespaces().filter((n) => n.startsWith(`mvb${process.pid}x`))
  const before = ours()
  await t.rejects(createNetHosts({ count: 2, rate: 'not-a-rate' }), { code: 'E_SANDBOX' }, 'a bad tc rate is refused')
  t.same(ours(), before, 'no namespace left behind')
})

t.test('a namespace left by a killed bench process is swept by the next setup', { skip: skip ?? false, timeout: 30_000 }, async (t) => {
  // the pid of a process that has ended: nothing owns a namespace named after it
  const gone = spawnSync(process.execPath, ['-e', '0']).pid
  const stale = `mvb${gone}x0sw`
  t.equal(spawnSync('ip', ['netns', 'add', stale]).status, 0, 'a stale namespace was made')
  t.teardown(() => { spawnSync('ip', ['netns', 'del', stale]) })
  const net = await createNetHosts({ count: 1 })
  t.teardown(async () => { await net.teardown() })
  t.notOk(namespaces().includes(stale), 'the stale namespace is gone')
  t.ok(namespaces().includes(net.hosts[0]!.ns), 'the new host exists')
})

if (skip !== undefined) t.comment(`skipped: ${skip}`)
