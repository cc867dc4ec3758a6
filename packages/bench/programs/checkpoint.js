// Checkpoints: `times` calls of ctx.checkpoint with a state of `kib` KiB, after an untimed warm-up.
// In mode coordinated each call is a point (a marker per port) and about every size-th point is a
// cut that ships the state and the channel state; in mode rank each call ships the rank's state.
// Rank 0 returns µs per call; every rank waits for the others at the end (a barrier).
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const kib = Number(ctx.params.kib)
  const times = Number(ctx.params.times)
  const state = { rank: ctx.rank, blob: 'x'.repeat(kib * 1024) }
  for (let i = 0; i < 4; i++) await ctx.checkpoint(state)
  await ctx.barrier()
  const t0 = performance.now()
  for (let i = 0; i < times; i++) await ctx.checkpoint(state)
  const us = (performance.now() - t0) * 1000 / times
  await ctx.barrier()
  return ctx.rank === 0 ? us : undefined
})
