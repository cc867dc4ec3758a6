// Placeholder until the job SDK lands: the real fft program replaces this file.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  return ctx.rank === 0 ? { todo: 'fft' } : undefined
})
