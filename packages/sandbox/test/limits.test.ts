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
