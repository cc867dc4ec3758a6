// Segmented sieve of Eratosthenes. `countPrimes` is also what the serial baseline runs,
// so the science row compares the same code on 1 process against k ranks.
import { job } from '@mvm/job'

const SEGMENT = 1 << 18

function basePrimes (limit) {
  const mark = new Uint8Array(limit + 1)
  const out = []
  for (let i = 2; i <= limit; i++) {
    if (mark[i] === 1) continue
    out.push(i)
    for (let j = i * i; j <= limit; j += i) mark[j] = 1
  }
  return out
}

/** Number of primes p with lo <= p < hi. */
export function countPrimes (lo, hi) {
  lo = Math.max(lo, 2)
  if (hi <= lo) return 0
  const primes = basePrimes(Math.floor(Math.sqrt(hi)) + 1)
  const seg = new Uint8Array(SEGMENT)
  let count = 0
  for (let start = lo; start < hi; start += SEGMENT) {
    const end = Math.min(start + SEGMENT, hi)
    seg.fill(0, 0, end - start)
    for (const p of primes) {
      if (p * p >= end) break
      let j = Math.max(p * p, Math.ceil(start / p) * p)
      for (; j < end; j += p) seg[j - start] = 1
    }
    for (let k = 0; k < end - start; k++) if (seg[k] === 0) count++
  }
  return count
}

export default job(async (ctx) => {
  const n = Number(ctx.params.n)
  await ctx.barrier()
  const t0 = performance.now()
  const slice = Math.ceil(n / ctx.size)
  const mine = countPrimes(ctx.rank * slice, Math.min(n, (ctx.rank + 1) * slice))
  const count = await ctx.reduce(mine, 'sum')
  return ctx.rank === 0 ? { count, ms: performance.now() - t0 } : undefined
})
