import t from 'tap'
import { expandTopology } from '@mvm/model'
import { cluster, run } from './fixtures.js'

// JSON values travel on IPC as their text (not base64) and on the wire as UTF-8 bytes:
// awkward values must come out exactly as they went in, whether the peer is local or remote.
const source = `import { job } from '@mvm/job'
const values = ['ünïcode ✓ 𝄞', 'line\\u2028sep', '"quoted" \\\\ back', { a: [1, null, -0.5], b: { c: 'x' } }, 0, '', null]
export default job(async (ctx) => {
  if (ctx.rank === 0) {
    for (const v of values) await ctx.send('next', v)
    await ctx.send('next')
    return await ctx.allReduce(1, 'sum')
  }
  const got = []
  for (let i = 0; i < values.length; i++) got.push(await ctx.recv('prev'))
  const none = await ctx.recv('prev')
  const sum = await ctx.allReduce(2, 'sum')
  return { same: JSON.stringify(got) === JSON.stringify(values), none: none === undefined, sum }
})`

for (const placement of [['A', 'A'], ['A', 'B']]) {
  t.test(`json values round-trip, placement ${placement.join(',')}`, async (t) => {
    const c = cluster(t)
    const res = await run(c, { source, language: 'js', graph: expandTopology({ shape: 'line', size: 2, directed: false } as never), placement })
    t.same(res.map((r) => r.error), [undefined, undefined])
    t.equal(res[0]!.result, 3)
    t.same(res[1]!.result, { same: true, none: true, sum: 3 })
  })
}

t.test('raw bytes still travel as base64', async (t) => {
  const c = cluster(t)
  const raw = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  if (ctx.rank === 0) { await ctx.send('next', new Uint8Array([0, 255, 128, 7])); return null }
  return Array.from(await ctx.recv('prev'))
})`
  for (const placement of [['A', 'A'], ['A', 'B']]) {
    const res = await run(c, { source: raw, language: 'js', graph: expandTopology({ shape: 'line', size: 2, directed: false } as never), placement, queue: { type: 'fifo', capacity: 4, encoding: 'raw' } })
    t.same(res[1]!.result, [0, 255, 128, 7], `placement ${placement.join(',')}`)
  }
})
