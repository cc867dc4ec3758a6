import t from 'tap'
import { expandTopology } from '@mvm/model'
import { cluster, run } from './fixtures.js'

t.test('ring across two nodes', async (t) => {
  const c = cluster(t)
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  await ctx.send('next', ctx.rank)
  const got = await ctx.recv('prev')
  const total = await ctx.reduce(got, 'sum')
  return { got, total }
})`
  const res = await run(c, { source, graph: expandTopology({ shape: 'ring', size: 4 } as never), placement: ['A', 'A', 'B', 'B'] })
  t.same(res.map((r) => r.error), [undefined, undefined, undefined, undefined])
  t.same(res.map((r) => (r.result as { got: number }).got), [3, 0, 1, 2])
  t.equal((res[0]!.result as { total: number }).total, 6)
})
