// A rank that takes params.ms and returns its rank: on real nodes this program runs; in mvm sim
// the simulated runtime waits the same time instead of starting a process.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  await new Promise((resolve) => setTimeout(resolve, Number(ctx.params.ms)))
  return ctx.rank
})
