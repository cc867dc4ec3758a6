// Point-to-point figures through the SDK. Latency: rank 0 pings, rank 1 echoes; one way = RTT / 2.
// Bandwidth: rank 0 streams strings of `bytes` characters; rank 1 answers once it has them all.
// Each mode first runs untimed over the same path (`warmup` rounds): the baselines are timed in
// warm processes too, and a fresh rank's first messages share the CPU with JIT compilation and
// the sandbox pool refilling itself in the background.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const mode = String(ctx.params.mode)
  const n = Number(ctx.params.messages)
  const bytes = Number(ctx.params.bytes)
  const warmup = Number(ctx.params.warmup ?? 0)
  const peer = ctx.rank === 0 ? 'next' : 'prev'
  await ctx.barrier()
  if (mode === 'latency') {
    if (ctx.rank === 1) {
      for (let i = 0; i < warmup + n; i++) await ctx.send(peer, await ctx.recv(peer))
      return undefined
    }
    for (let i = 0; i < warmup; i++) { await ctx.send(peer, i); await ctx.recv(peer) }
    const t0 = performance.now()
    for (let i = 0; i < n; i++) { await ctx.send(peer, i); await ctx.recv(peer) }
    return (performance.now() - t0) * 1000 / (2 * n)
  }
  const data = 'x'.repeat(bytes)
  const stream = async (count) => {
    if (ctx.rank === 1) {
      for (let i = 0; i < count; i++) await ctx.recv(peer)
      await ctx.send(peer, count)
      return 0
    }
    const t0 = performance.now()
    for (let i = 0; i < count; i++) await ctx.send(peer, data)
    await ctx.recv(peer)
    return count * bytes / 1e6 / ((performance.now() - t0) / 1000)
  }
  if (warmup > 0) await stream(warmup)
  const rate = await stream(n)
  return ctx.rank === 0 ? rate : undefined
})
