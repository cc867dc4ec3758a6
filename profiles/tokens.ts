// Coordinated checkpoints on a token ring: every rank puts params.w tokens on 'next', then per step
// takes one from 'prev', folds it into an order-sensitive hash and passes it on plus one, so w
// tokens are always in flight on every link. ctx.checkpoint() opens each step; with
// `checkpoint.mode: coordinated` some of those points are cuts that also hold the tokens in
// flight, so after a node loss (`recovery: restart`) the ring resumes with none lost or doubled.
// Rank 0 returns every rank's hash, which a serial run of the same recurrence reproduces.
import { job } from '@mvm/job'

interface State { i: number, acc: number }

export default job(async (ctx) => {
  const n = Number(ctx.params.n ?? 200)
  const w = Number(ctx.params.w ?? 3)
  const restored = ctx.restored as State | undefined
  const s: State = restored === undefined ? { i: 0, acc: 0 } : { ...restored }
  if (restored === undefined) for (let k = 0; k < w; k++) await ctx.send('next', ctx.rank * 1000 + k)
  while (s.i < n) {
    await ctx.checkpoint(s)
    const v = await ctx.recv('prev') as number
    s.acc = (s.acc * 31 + v) % 2147483647
    s.i++
    // the last w tokens stay with this rank, so every send has a matching recv
    if (s.i <= n - w) await ctx.send('next', v + 1)
  }
  const hashes = await ctx.gather(s.acc)
  return ctx.rank === 0 ? { steps: n, inFlight: w, hashes } : undefined
})
