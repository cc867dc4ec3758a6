// Radix-2 decimation-in-frequency FFT of params.points complex values on a butterfly of ranks.
// Rank r holds points [r*m, (r+1)*m) with m = points / size. The first log2(size) stages pair
// points h = N/2, N/4, ... apart, which live on rank r XOR (size >> (s+1)): exactly the
// butterfly topology's port `stage<s>`. The remaining stages are local. Rank 0 gathers the result
// and undoes the bit-reversed order. Input: params.re / params.im, or a fixed test signal.
import { job } from '@mvm/job'

type C = [number, number]

const mul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]]
const twiddle = (k: number, len: number): C => [Math.cos(-2 * Math.PI * k / len), Math.sin(-2 * Math.PI * k / len)]

function bitReverse (i: number, bits: number): number {
  let r = 0
  for (let b = 0; b < bits; b++) r = (r << 1) | ((i >> b) & 1)
  return r
}

export default job(async (ctx) => {
  const N = Number(ctx.params.points ?? 8)
  const P = ctx.size
  if (N % P !== 0 || (N & (N - 1)) !== 0) throw new Error(`points (${N}) must be a power of two divisible by the ${P} ranks`)
  const m = N / P
  const re = (ctx.params.re as number[] | undefined) ?? Array.from({ length: N }, (_, k) => Math.cos(k) + k)
  const im = (ctx.params.im as number[] | undefined) ?? Array.from({ length: N }, (_, k) => Math.sin(2 * k))
  const base = ctx.rank * m
  let x: C[] = Array.from({ length: m }, (_, j) => [re[base + j]!, im[base + j]!])

  let s = 0
  for (let h = N / 2; h >= m; h /= 2, s++) {
    const port = `stage${s}`
    await ctx.send(port, x)
    const other = await ctx.recv(port) as C[]
    x = x.map((mine, j) => {
      const g = base + j
      if ((g & h) === 0) return [mine[0] + other[j]![0], mine[1] + other[j]![1]]
      const diff: C = [other[j]![0] - mine[0], other[j]![1] - mine[1]]
      return mul(diff, twiddle((g - h) % (2 * h), 2 * h))
    })
  }
  for (let h = m / 2; h >= 1; h /= 2) {
    for (let j = 0; j < m; j++) {
      const g = base + j
      if ((g & h) !== 0) continue
      const a = x[j]!
      const b = x[j + h]!
      x[j] = [a[0] + b[0], a[1] + b[1]]
      x[j + h] = mul([a[0] - b[0], a[1] - b[1]], twiddle(g % (2 * h), 2 * h))
    }
  }
  const all = await ctx.gather(x, 0)
  if (all === undefined) return undefined
  const flat = all.flat()
  const bits = Math.log2(N)
  const out: C[] = new Array(N)
  for (let g = 0; g < N; g++) out[bitReverse(g, bits)] = flat[g]!
  return { re: out.map((c) => c[0]), im: out.map((c) => c[1]) }
})
