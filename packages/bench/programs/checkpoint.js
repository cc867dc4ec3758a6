// Checkpoints: `times` calls of ctx.checkpoint with a state of `kib` KiB, after an untimed warm-up.
// In mode coordinated each call is a point (a marker per port) and about every size-th point is a
// cut that ships the state and the channel state; in mode rank each call ships the rank's state.
// With exchange 1 the timed loop instead sends and receives one plain value on every port: the
// messages a point costs, without the protocol. Rank 0 returns µs per call (or per exchange).
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const kib = Number(ctx.params.kib)
  const times = Number(ctx.params.times)
  const exchange = Number(ctx.params.exchange) === 1
  const state = { rank: ctx.rank, blob: 'x'.repeat(kib * 1024) }
  for (let i = 0; i < 4; i++) await ctx.checkpoint(state)
  await ctx.barrier()
  const t0 = performance.now()
  for (let i = 0; i < times; i++) {
    if (exchange) await Promise.all(ctx.ports.flatMap((p) => [ctx.send(p, i), ctx.recv(p)]))
    else await ctx.checkpoint(state)
  }
  const us = (performance.now() - t0) * 1000 / times
  await ctx.barrier()
  return ctx.rank === 0 ? us : undefined
})
