// ctx.shared against the queue layer on 2 ranks on 2 nodes: with mode shared, rank 0 does `times`
// gets (op get) or puts (op put) of a key whose home is rank 1; with mode queue, rank 0 sends one
// small value to rank 1 and waits for its echo, `times` times; op replica is a get with
// { replica: true } (local after the first). Rank 0 returns µs per operation.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const times = Number(ctx.params.times)
  const mode = String(ctx.params.mode)
  const op = String(ctx.params.op)
  const key = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7'].find((k) => ctx.shared.home(k) === 1)
  if (key === undefined) throw new Error('no key homed at rank 1')
  await ctx.shared.put(key, 1)
  await ctx.barrier()
  let us = 0
  if (ctx.rank === 0) {
    const once = async (i) => {
      if (mode === 'queue') { await ctx.send('next', i); await ctx.recv('prev') } else if (op === 'put') await ctx.shared.put(key, i); else await ctx.shared.get(key, { replica: op === 'replica' })
    }
    for (let i = 0; i < 10; i++) await once(i)
    const t0 = performance.now()
    for (let i = 0; i < times; i++) await once(i)
    us = (performance.now() - t0) * 1000 / times
    if (mode === 'queue') await ctx.send('next', -1)
  } else if (mode === 'queue') {
    for (;;) { const v = await ctx.recv('prev'); if (v === -1) break; await ctx.send('next', v) }
  }
  await ctx.barrier()
  return ctx.rank === 0 ? us : undefined
})
