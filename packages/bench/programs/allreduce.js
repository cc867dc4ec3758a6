// Collectives: the same allReduce repeated; a number when elems is 1, else a Float64Array of elems.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const elems = Number(ctx.params.elems)
  const times = Number(ctx.params.times)
  const value = elems === 1 ? ctx.rank + 1 : Float64Array.from({ length: elems }, (_, i) => i * 0.5 + ctx.rank)
  // untimed first calls: the first messages between a pair of nodes set up the job's link
  for (let i = 0; i < (elems === 1 ? 20 : 1); i++) await ctx.allReduce(value, 'sum')
  await ctx.barrier()
  const t0 = performance.now()
  let out
  for (let i = 0; i < times; i++) out = await ctx.allReduce(value, 'sum')
  const us = (performance.now() - t0) * 1000 / times
  const first = elems === 1 ? out : out[0]
  const last = elems === 1 ? out : out[elems - 1]
  const expected = elems === 1 ? ctx.size * (ctx.size + 1) / 2 : ctx.size * (ctx.size - 1) / 2
  if (first !== expected) throw new Error(`allReduce gave ${first}, expected ${expected}`)
  if (elems > 1 && !(out instanceof Float64Array && last === expected + ctx.size * (elems - 1) * 0.5)) throw new Error('allReduce lost the Float64Array or its tail')
  return ctx.rank === 0 ? us : undefined
})
