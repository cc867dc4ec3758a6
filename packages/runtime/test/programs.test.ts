import t, { type Test } from 'tap'
import { expandTopology } from '@mvm/model'
import { cluster, profileSource, run } from './fixtures.js'

// every sample on 4 ranks split 2+2 over two runtimes ("nodes")
const placement = ['A', 'A', 'B', 'B']
const ok = (t: Test, res: Array<{ error?: unknown }>): void => { t.same(res.map((r) => r.error), [undefined, undefined, undefined, undefined], 'every rank succeeded') }

t.test('primes: 10^6 → 78498, 10^7 → 664579', async (t) => {
  const c = cluster(t)
  const source = await profileSource('primes')
  const graph = expandTopology({ shape: 'star', size: 4 } as never)
  const small = await run(c, { source, graph, placement, params: { n: 1000000, chunk: 50000 } })
  ok(t, small)
  t.equal(small[0]!.result, 78498)
  const big = await run(c, { source, graph, placement, params: { n: 10000000, chunk: 500000 } })
  ok(t, big)
  t.equal(big[0]!.result, 664579)
})

t.test('ring: 3 laps add 3 * (0+1+2+3)', async (t) => {
  const c = cluster(t)
  const res = await run(c, { source: await profileSource('ring'), graph: expandTopology({ shape: 'ring', size: 4 } as never), placement, params: { laps: 3 }, queue: { type: 'priority', capacity: 8, encoding: 'json' } })
  ok(t, res)
  t.same(res[0]!.result, { token: 18, laps: 3, size: 4 })
})

t.test('heat matches a serial computation to 1e-9', async (t) => {
  const c = cluster(t)
  const cells = 50
  const steps = 200
  const alpha = 0.25
  const res = await run(c, { source: await profileSource('heat'), graph: expandTopology({ shape: 'line', size: 4, directed: false } as never), placement, params: { cells, steps, alpha } })
  ok(t, res)
  let u = Array.from({ length: cells }, (_, i) => Math.sin(Math.PI * (i + 1) / (cells + 1)) + (i === Math.floor(cells / 2) ? 1 : 0))
  for (let s = 0; s < steps; s++) u = u.map((x, i) => x + alpha * ((u[i - 1] ?? 0) - 2 * x + (u[i + 1] ?? 0)))
  const grid = (res[0]!.result as { grid: number[] }).grid
  t.equal(grid.length, cells)
  const maxErr = Math.max(...grid.map((g, i) => Math.abs(g - u[i]!)))
  t.ok(maxErr < 1e-9, `max error ${maxErr}`)
  t.ok(Math.abs(u[25]! - u[0]!) > 1e-3, 'the serial answer is not trivial')
})

t.test('fft of 8 points on a 4-rank butterfly matches a direct DFT to 1e-9', async (t) => {
  const c = cluster(t)
  const N = 8
  const re = [1, 2, -0.5, 3.25, 0, -2, 7, 0.125]
  const im = [0, -1, 0.5, 2, -3, 0, 1.5, -0.75]
  const res = await run(c, { source: await profileSource('fft'), graph: expandTopology({ shape: 'butterfly', size: 4 } as never), placement, params: { points: N, re, im } })
  ok(t, res)
  const out = res[0]!.result as { re: number[], im: number[] }
  for (let k = 0; k < N; k++) {
    let sr = 0
    let si = 0
    for (let n = 0; n < N; n++) {
      const a = -2 * Math.PI * k * n / N
      sr += re[n]! * Math.cos(a) - im[n]! * Math.sin(a)
      si += re[n]! * Math.sin(a) + im[n]! * Math.cos(a)
    }
    t.ok(Math.abs(out.re[k]! - sr) < 1e-9 && Math.abs(out.im[k]! - si) < 1e-9, `X[${k}] = ${sr} + ${si}i`)
  }
})

t.test('pipeline: tokenize → lowercase → drop stopwords → count', async (t) => {
  const c = cluster(t)
  const lines = ['The cat and the Hat', 'A cat of THE world; cat!', 'hat trick']
  const res = await run(c, { source: await profileSource('pipeline'), graph: expandTopology({ shape: 'line', size: 4, directed: true } as never), placement, params: { lines } })
  ok(t, res)
  t.same(res[3]!.result, { words: 7, distinct: 4, counts: { cat: 3, hat: 2, world: 1, trick: 1 } })
})
