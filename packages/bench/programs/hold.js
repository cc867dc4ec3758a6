import { job } from '@mvm/job'

export default job(async (ctx) => {
  await ctx.barrier()
  await new Promise((resolve) => setTimeout(resolve, Number(ctx.params.ms)))
  await ctx.barrier()
  return ctx.rank === 0 ? 'held' : undefined
})
