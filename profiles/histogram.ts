// A parallel histogram in ctx.shared: each rank makes params.n pseudo-random values (a 32-bit LCG
// seeded by its rank) and counts each one in its bucket with a get / compareAndSet loop, so the
// ranks race on the same keys at their home ranks (bucket = the high 16 bits mod buckets). After a barrier rank 0 reads every bucket.
// The total must be size * n and each bucket what a serial run counts.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const n = Number(ctx.params.n ?? 200)
  const buckets = Number(ctx.params.buckets ?? 8)
  let x = (ctx.rank + 1) * 2654435761 >>> 0
  let retries = 0
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    const key = `bucket-${(x >>> 16) % buckets}`
    for (;;) {
      const cur = await ctx.shared.get(key) as number | undefined
      if (await ctx.shared.compareAndSet(key, cur, (cur ?? 0) + 1)) break
      retries++
    }
  }
  // every rank's counts are in before anyone reads, and no home leaves while another still asks
  await ctx.barrier()
  const counts = ctx.rank === 0 ? await Promise.all(Array.from({ length: buckets }, async (_, b) => (await ctx.shared.get(`bucket-${b}`) as number | undefined) ?? 0)) : []
  const totalRetries = await ctx.reduce(retries, 'sum')
  await ctx.barrier()
  return ctx.rank === 0 ? { counts, total: counts.reduce((a, b) => a + b, 0), retries: totalRetries } : undefined
})
