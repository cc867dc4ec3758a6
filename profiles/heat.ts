// 1-D heat diffusion on params.cells cells with fixed zero boundaries, params.steps explicit
// steps of u += alpha * (left - 2u + right). Each rank owns a contiguous slab and swaps its edge
// cells with its neighbours on an undirected line (ports next/prev); rank 0 gathers the grid.
import { job } from '@mvm/job'

/** The starting temperature of cell i of n (shared with the test's serial computation). */
export function initial (i: number, n: number): number {
  return Math.sin(Math.PI * (i + 1) / (n + 1)) + (i === Math.floor(n / 2) ? 1 : 0)
}

export default job(async (ctx) => {
  const n = Number(ctx.params.cells ?? 64)
  const steps = Number(ctx.params.steps ?? 100)
  const alpha = Number(ctx.params.alpha ?? 0.25)
  const lo = Math.floor(ctx.rank * n / ctx.size)
  const hi = Math.floor((ctx.rank + 1) * n / ctx.size)
  const m = hi - lo
  const hasPrev = ctx.ports.includes('prev')
  const hasNext = ctx.ports.includes('next')
  let u = new Float64Array(m + 2)   // u[0] and u[m+1] are the halo cells
  for (let i = 0; i < m; i++) u[i + 1] = initial(lo + i, n)
  let v = new Float64Array(m + 2)
  for (let s = 0; s < steps; s++) {
    // send first, then receive: every queue holds at least one item, so nobody waits on a send
    if (hasPrev) await ctx.send('prev', u[1])
    if (hasNext) await ctx.send('next', u[m])
    u[0] = hasPrev ? await ctx.recv('prev') as number : 0
    u[m + 1] = hasNext ? await ctx.recv('next') as number : 0
    for (let i = 1; i <= m; i++) v[i] = u[i] + alpha * (u[i - 1] - 2 * u[i] + u[i + 1])
    ;[u, v] = [v, u]
  }
  const parts = await ctx.gather(Array.from(u.subarray(1, m + 1)), 0)
  if (parts === undefined) return undefined
  const grid = parts.flat()
  // the checksum lets a profile state its expected answer without listing every cell
  return { cells: n, steps, checksum: grid.reduce((a, b) => a + b, 0), grid }
})
