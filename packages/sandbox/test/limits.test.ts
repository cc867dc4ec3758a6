import t, { type Test } from 'tap'
import { processDriver } from '@mvm/sandbox'
import { alive, ask, specFor, within } from './fixtures.js'

const driver = processDriver()

async function run (t: Test, id: string, limits: object, cmd: string, waitReply = false): Promise<any> {
  const sb = await driver.spawn(specFor(t.testdir(), id, { limits }))
  t.teardown(async () => { await sb.kill('killed', { graceMs: 0 }) })
  if (waitReply) await ask(sb, { cmd })
  else await sb.send({ cmd })
  const info = await within(sb.exited, 30_000, `${id} exit`)
  t.notOk(alive(sb.pid), 'reaped')
  return info
}

t.test('V8 heap over memoryMB → memory', async (t) => {
  const info = await run(t, 'heap', { memoryMB: 48 }, 'hog-heap')
  t.equal(info.reason, 'memory', info.message)
  t.match(info.message, /heap out of memory/)
})

t.test('off-heap RSS over memoryMB → memory (watchdog)', async (t) => {
  const info = await run(t, 'rss', { memoryMB: 64 }, 'hog-rss')
  t.equal(info.reason, 'memory', info.message)
  t.match(info.message, /RSS/)
  t.ok(info.maxRssMB > 64, `peak RSS ${info.maxRssMB} MB recorded`)
})

t.test('busy loop over cpuTimeSec → cpu-time', async (t) => {
  const info = await run(t, 'spin', { cpuTimeSec: 1 }, 'spin')
  t.equal(info.reason, 'cpu-time', info.message)
  t.equal(info.signal, 'SIGKILL')
})

t.test('sleep forever over wallTimeSec → wall-time', async (t) => {
  const info = await run(t, 'sleep', { wallTimeSec: 1 }, 'sleep', true)
  t.equal(info.reason, 'wall-time', info.message)
})

t.test('a clean exit within limits is reason exit', async (t) => {
  const sb = await driver.spawn(specFor(t.testdir(), 'ok', { limits: { memoryMB: 64, cpuTimeSec: 10, wallTimeSec: 30 } }))
  t.teardown(async () => { await sb.kill('killed', { graceMs: 0 }) })
  await sb.send({ cmd: 'exit', code: 0 })
  t.match(await within(sb.exited, 10_000, 'exit'), { reason: 'exit', code: 0 })
})

// Issue 17 item 3: a rank allocating as fast as it can (2 GB of Buffers in a tight loop) must
// be stopped near its budget (memoryMB × 1.2 + 64 MiB). Under root with a writable memory
// cgroup the kernel caps what is charged after the join, and the 50 ms watchdog usually fires
// first: measured peak budget + 22 MiB (the ~40 MiB Node had before joining is not charged),
// so the stated margin is 64 MiB. The watchdog alone cannot keep up with ~4 GB/s: measured
// budget + 220 MiB, and its peak is a sample (a lower bound), so only a loose bound is checked.
const BUDGET = (mb: number): number => mb * 1.2 + 64
const root = process.getuid?.() === 0
for (const [name, make, margin] of [
  ['cgroup (root) or watchdog', () => processDriver(), root ? 64 : 512],
  ['watchdog only', () => processDriver({ memoryCgroup: false }), 512]
] as const) {
  t.test(`fast off-heap allocation is stopped near the budget: ${name}`, async (t) => {
    const mb = 128
    const sb = await make().spawn(specFor(t.testdir(), `fast-${margin}-${name.length}`, { limits: { memoryMB: mb } }))
    t.teardown(async () => { await sb.kill('killed', { graceMs: 0 }) })
    await sb.send({ cmd: 'hog-fast' })
    const info = await within(sb.exited, 30_000, 'fast hog exit')
    t.equal(info.reason, 'memory', `killed for memory: ${info.message}`)
    t.comment(`${name}: peak ${info.maxRssMB} MiB against a budget of ${BUDGET(mb)} MiB (${info.message})`)
    t.ok(info.maxRssMB <= BUDGET(mb) + margin, `peak ${info.maxRssMB} MiB <= budget ${BUDGET(mb)} + ${margin} MiB`)
  })
}
