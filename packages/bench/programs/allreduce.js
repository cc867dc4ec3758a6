// Collectives: the same allReduce repeated; a number when elems is 1, else an array of elems numbers.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const elems = Number(ctx.params.elems)
  const times = Number(ctx.params.times)
  const value = elems === 1 ? ctx.rank + 1 : Array.from({ length: elems }, (_, i) => i * 0.5 + ctx.rank)
  await ctx.barrier()
  const t0 = performance.now()
  let out
  for (let i = 0; i < times; i++) out = await ctx.allReduce(value, 'sum')
  const us = (performance.now() - t0) * 1000 / times
  const first = Array.isArray(out) ? out[0] : out
  const expected = elems === 1 ? ctx.size * (ctx.size + 1) / 2 : ctx.size * (ctx.size - 1) / 2
  if (first !== expected) throw new Error(`allReduce gave ${first}, expected ${expected}`)
  return ctx.rank === 0 ? us : undefined
})
