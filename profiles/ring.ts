// A token goes round the ring params.laps times; every rank adds its rank each time it passes.
// After k laps on n ranks the token is k * n * (n - 1) / 2.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const laps = Number(ctx.params.laps ?? 3)
  if (ctx.rank === 0) {
    let token = 0
    for (let lap = 0; lap < laps; lap++) {
      await ctx.send('next', token + ctx.rank)
      token = await ctx.recv('prev') as number
    }
    return { token, laps, size: ctx.size }
  }
  for (let lap = 0; lap < laps; lap++) {
    const token = await ctx.recv('prev') as number
    await ctx.send('next', token + ctx.rank)
  }
  return undefined
})
