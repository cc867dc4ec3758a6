import { job } from '@mvm/job'

// A malleable line that passes its resize point (a coordinated checkpoint) every step and swaps a
// value with its neighbours, until cancelled: the bench times a resize of it while it runs.
export default job(async (ctx) => {
  const ms = Number(ctx.params.ms)
  const st = await ctx.onResize((r) => r.states[0]) ?? ctx.restored ?? { s: 0 }
  for (let s = st.s; ; s++) {
    await ctx.checkpoint({ s })
    if (ctx.ports.includes('prev')) await ctx.send('prev', s)
    if (ctx.ports.includes('next')) await ctx.send('next', s)
    if (ctx.ports.includes('prev')) await ctx.recv('prev')
    if (ctx.ports.includes('next')) await ctx.recv('next')
    await new Promise((resolve) => setTimeout(resolve, ms))
  }
})
