// One message from each rank to the next; the result is the count of hops plus one (2 for 2 ranks).
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const v = ctx.rank === 0 ? 1 : await ctx.recv('prev')
  if (ctx.rank < ctx.size - 1) {
    await ctx.send('next', v + 1)
    return ctx.rank === 0 ? await ctx.recv('next') : undefined
  }
  if (ctx.size > 1) await ctx.send('prev', v)
  return v + (ctx.size === 1 ? 1 : 0)
})
