import t from 'tap'
import { expandTopology } from '@mvm/model'
import { cluster, run } from './fixtures.js'

// A producer far faster than its consumer, across the node boundary: without credits the
// runtime (this process) would buffer everything sent; with them it holds a few items per link.
t.test('a fast producer to a slow consumer keeps the runtime within bounded memory', async (t) => {
  const c = cluster(t)
  const items = 3000
  const kb = 64
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  if (ctx.rank === 0) {
    const chunk = 'x'.repeat(${kb * 1024})
    for (let i = 0; i < ${items}; i++) await ctx.send('next', { i, chunk })
    return 'sent'
  }
  let expect = 0
  for (let i = 0; i < ${items}; i++) {
    const v = await ctx.recv('prev')
    if (v.i !== expect++) throw new Error('out of order at ' + i)
    if (i % 4 === 0) await new Promise((r) => setTimeout(r, 2))
  }
  return expect
})`
  const graph = expandTopology({ shape: 'line', size: 2, directed: true } as never)
  // the compiler thread (TypeScript loaded in this process) is not what this test measures
  await c.runtimes.A!.compile({ source, language: 'ts' })
  const base = process.memoryUsage().rss
  let peak = base
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 20)
  t.teardown(() => clearInterval(timer))
  const res = await run(c, { source, graph, placement: ['A', 'B'], queue: { type: 'fifo', capacity: 4, encoding: 'json' }, wallTimeSec: 120 })
  clearInterval(timer)
  t.same(res.map((r) => r.result), ['sent', items], 'everything arrived, in order')
  const totalMB = (items * kb) / 1024
  const growthMB = (peak - base) / 1024 / 1024
  t.comment(`sent ${totalMB.toFixed(0)} MB; runtime RSS grew by ${growthMB.toFixed(1)} MB at peak`)
  t.ok(growthMB < totalMB / 2, `RSS growth ${growthMB.toFixed(1)} MB stays well below the ${totalMB.toFixed(0)} MB sent`)
})
