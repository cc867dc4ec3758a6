// Point-to-point figures through the SDK. Latency: rank 0 pings, rank 1 echoes; one way = RTT / 2.
// Bandwidth: rank 0 streams strings of `bytes` characters; rank 1 answers once it has them all.
import { job } from '@mvm/job'

export default job(async (ctx) => {
  const mode = String(ctx.params.mode)
  const n = Number(ctx.params.messages)
  const bytes = Number(ctx.params.bytes)
  const peer = ctx.rank === 0 ? 'next' : 'prev'
  await ctx.barrier()
  if (mode === 'latency') {
    if (ctx.rank === 1) {
      for (let i = 0; i < n; i++) await ctx.send(peer, await ctx.recv(peer))
      return undefined
    }
    const t0 = performance.now()
    for (let i = 0; i < n; i++) { await ctx.send(peer, i); await ctx.recv(peer) }
    return (performance.now() - t0) * 1000 / (2 * n)
  }
  if (ctx.rank === 1) {
    for (let i = 0; i < n; i++) await ctx.recv(peer)
    await ctx.send(peer, n)
    return undefined
  }
  const data = 'x'.repeat(bytes)
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await ctx.send(peer, data)
  await ctx.recv(peer)
  return n * bytes / 1e6 / ((performance.now() - t0) / 1000)
})
