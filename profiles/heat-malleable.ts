// 1-D heat diffusion as profiles/heat.ts computes it, on a malleable line: the job runs at 2 to 4
// ranks and the broker may resize it at any of its resize points (a coordinated checkpoint every
// params.every steps). After a resize every rank takes its new block out of the old ranks' blocks
// (ctx.onResize + redistribute); each cell's update is the same whoever owns it, so the answer is
// the serial one to the last bit, whatever sizes the run went through (listed in `sizes`).
import { blockRange, job, redistribute } from '@mvm/job'

interface State { s: number, u: number[], sizes: number[] }

/** The starting temperature of cell i of n (as profiles/heat.ts). */
export function initial (i: number, n: number): number {
  return Math.sin(Math.PI * (i + 1) / (n + 1)) + (i === Math.floor(n / 2) ? 1 : 0)
}

export default job(async (ctx) => {
  const n = Number(ctx.params.cells ?? 4000)
  const steps = Number(ctx.params.steps ?? 500)
  const alpha = Number(ctx.params.alpha ?? 0.25)
  const every = Math.max(1, Number(ctx.params.every ?? 10))
  const ms = Number(ctx.params.ms ?? 0)
  const [lo, hi] = blockRange(n, ctx.rank, ctx.size)
  const m = hi - lo
  // resized: the old ranks' blocks, concatenated and cut again for this rank of the new size
  const moved = await ctx.onResize((r): State => {
    const old = r.states as State[]
    return { s: old[0]!.s, u: redistribute(old.map((o) => o.u), ctx.rank, ctx.size), sizes: [...old[0]!.sizes, ctx.size] }
  })
  const st: State = moved ?? (ctx.restored as State | undefined) ?? { s: 0, u: Array.from({ length: m }, (_, i) => initial(lo + i, n)), sizes: [ctx.size] }
  const hasPrev = ctx.ports.includes('prev')
  const hasNext = ctx.ports.includes('next')
  let u = new Float64Array(m + 2)   // u[0] and u[m+1] are the halo cells
  u.set(st.u, 1)
  let v = new Float64Array(m + 2)
  for (let s = st.s; s < steps; s++) {
    // a resize point: every halo sent has been read, so no message is in flight here
    if (s % every === 0) await ctx.checkpoint({ s, u: Array.from(u.subarray(1, m + 1)), sizes: st.sizes })
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
    if (hasPrev) await ctx.send('prev', u[1])
    if (hasNext) await ctx.send('next', u[m])
    u[0] = hasPrev ? await ctx.recv('prev') as number : 0
    u[m + 1] = hasNext ? await ctx.recv('next') as number : 0
    for (let i = 1; i <= m; i++) v[i] = u[i]! + alpha * (u[i - 1]! - 2 * u[i]! + u[i + 1]!)
    ;[u, v] = [v, u]
  }
  const parts = await ctx.gather(Array.from(u.subarray(1, m + 1)), 0)
  if (parts === undefined) return undefined
  const grid = parts.flat()
  return { cells: n, steps, checksum: grid.reduce((a, b) => a + b, 0), sizes: st.sizes, grid }
})
