// Count the primes below params.n on a star: the hub (rank 0) hands out ranges of params.chunk
// numbers to whichever worker reports back first; the workers' counts are then summed with reduce.
import { job } from '@mvm/job'

/** Primes up to and including `limit` (plain sieve; limit is about sqrt(n)). */
function basePrimes (limit: number): number[] {
  const mark = new Uint8Array(limit + 1)
  const out: number[] = []
  for (let i = 2; i <= limit; i++) {
    if (mark[i] === 1) continue
    out.push(i)
    for (let j = i * i; j <= limit; j += i) mark[j] = 1
  }
  return out
}

/** Primes in [lo, hi) by a segmented sieve over the base primes. */
function countRange (lo: number, hi: number, primes: number[]): number {
  lo = Math.max(lo, 2)
  if (hi <= lo) return 0
  const seg = new Uint8Array(hi - lo)
  for (const p of primes) {
    if (p * p >= hi) break
    let start = Math.max(p * p, Math.ceil(lo / p) * p)
    for (let j = start; j < hi; j += p) seg[j - lo] = 1
  }
  let c = 0
  for (let i = 0; i < seg.length; i++) if (seg[i] === 0) c++
  return c
}

export default job(async (ctx) => {
  const n = Number(ctx.params.n ?? 1000000)
  const chunk = Math.max(1, Number(ctx.params.chunk ?? 100000))
  const primes = basePrimes(Math.ceil(Math.sqrt(n)) + 1)
  let mine = 0
  if (ctx.rank === 0) {
    const spokes = ctx.groups.spokes ?? []
    let next = 0
    const take = (): [number, number] | null => {
      if (next >= n) return null
      const r: [number, number] = [next, Math.min(n, next + chunk)]
      next = r[1]
      return r
    }
    if (spokes.length === 0) {
      mine = countRange(0, n, primes)
    } else {
      let busy = 0
      for (const s of spokes) {
        const r = take()
        await ctx.send(s, r)
        if (r !== null) busy++
      }
      while (busy > 0) {
        const { port } = await ctx.recv()   // a count from whichever worker finished
        busy--
        const r = take()
        await ctx.send(port, r)
        if (r !== null) busy++
      }
    }
  } else {
    for (;;) {
      const r = await ctx.recv('hub') as [number, number] | null
      if (r === null) break
      const c = countRange(r[0], r[1], primes)
      mine += c
      await ctx.send('hub', c)
    }
  }
  const total = await ctx.reduce(mine, 'sum')
  return ctx.rank === 0 ? total : undefined
})
