// Migration pause: a 2-rank ring passes one token per checkpoint point. Rank 0 keeps, in its
// state, the wall-clock time of its last point; a run moved from outside resumes from its last
// cut, so the first gap after the move is the pause the job saw (the work redone since the cut
// included). Rank 0 returns that pause and the median gap between two points (the cost of a
// point), and ends the ring by passing a 0 token.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const stopAfter = Number(ctx.params.stopAfterMs)
  const expectMove = Number(ctx.params.moved) === 1
  const restored = ctx.restored
  const s = restored ?? { t0: Date.now(), lastAt: 0, resumedAt: 0 }
  let pause = 0
  const gaps = []
  if (restored !== undefined) s.resumedAt = Date.now()
  for (;;) {
    const now = Date.now()
    if (s.lastAt > 0) {
      if (restored !== undefined && pause === 0) pause = now - s.lastAt
      else if (gaps.length < 100_000) gaps.push(now - s.lastAt)
    }
    s.lastAt = now
    await ctx.checkpoint(s)
    if (ctx.rank === 0) {
      const moved = s.resumedAt > 0
      const done = Date.now() - s.t0 > 60_000 || (Date.now() - s.t0 > stopAfter && (!expectMove || (moved && Date.now() - s.resumedAt > 300)))
      await ctx.send('next', done ? 0 : 1)
      if (await ctx.recv('prev') === 0) break
    } else {
      const v = await ctx.recv('prev')
      await ctx.send('next', v)
      if (v === 0) break
    }
  }
  gaps.sort((a, b) => a - b)
  return ctx.rank === 0 ? { pauseMs: pause, pointMs: gaps[Math.floor(gaps.length / 2)] ?? 0 } : undefined
})
