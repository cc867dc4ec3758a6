// The SDK side of malleable jobs: block layouts, moving blocks between layouts, and a job restarted
// in-process at another size from a cut of the old one (as the super-peer does after a resize).
import t from 'tap'
import { blockRange, redistribute, resizeEnvelope, isCutEnvelope, type CutEnvelope, type JobContext } from '@mvm/job'
import { memoryJob, ringLinks } from './memory-transport.js'

t.test('blockRange: contiguous blocks in rank order, sizes within one of each other', async (t) => {
  for (const [n, size] of [[10, 3], [7, 7], [3, 5], [0, 2], [1000, 4]] as const) {
    const blocks = Array.from({ length: size }, (_, r) => blockRange(n, r, size))
    t.equal(blocks[0]![0], 0, `n=${n} size=${size}: starts at 0`)
    t.equal(blocks[size - 1]![1], n, 'ends at n')
    for (let r = 1; r < size; r++) t.equal(blocks[r]![0], blocks[r - 1]![1], `rank ${r} starts where ${r - 1} ends`)
    const lens = blocks.map(([lo, hi]) => hi - lo)
    t.ok(Math.max(...lens) - Math.min(...lens) <= 1, 'balanced')
  }
  t.throws(() => blockRange(10, 3, 3), { code: 'E_BAD_REQUEST', message: /rank must be an integer from 0 to 2/ })
  t.throws(() => blockRange(-1, 0, 3), { code: 'E_BAD_REQUEST' })
})

t.test('redistribute: the old blocks concatenated, cut again for the new layout', async (t) => {
  const whole = Array.from({ length: 23 }, (_, i) => i * 1.5)
  for (const [from, to] of [[2, 4], [4, 2], [3, 5], [5, 1], [1, 3]] as const) {
    const parts = Array.from({ length: from }, (_, r) => { const [lo, hi] = blockRange(whole.length, r, from); return whole.slice(lo, hi) })
    const next = Array.from({ length: to }, (_, r) => redistribute(parts, r, to))
    t.same(next.flat(), whole, `${from} → ${to}: nothing lost, nothing repeated, order kept`)
    next.forEach((b, r) => { const [lo, hi] = blockRange(whole.length, r, to); t.equal(b.length, hi - lo, `${from} → ${to}: rank ${r} gets its block`) })
  }
  const typed = redistribute([new Float64Array([1, 2, 3]), new Float64Array([4, 5])], 1, 2)
  t.ok(typed instanceof Float64Array, 'Float64Array blocks give a Float64Array')
  t.same(Array.from(typed), [3, 4, 5])
})

/** Every cell is bumped by the step each step; a ring message per step (read within the step) keeps the ports busy. */
async function bump (ctx: JobContext, n: number, steps: number): Promise<number[] | undefined> {
  interface S { s: number, u: number[] }
  const moved = await ctx.onResize((r): S => ({ s: (r.states[0] as S).s, u: redistribute((r.states as S[]).map((x) => x.u), ctx.rank, ctx.size) }))
  const [lo, hi] = blockRange(n, ctx.rank, ctx.size)
  const st: S = moved ?? (ctx.restored as S | undefined) ?? { s: 0, u: Array.from({ length: hi - lo }, (_, i) => lo + i) }
  for (let s = st.s; s < steps; s++) {
    await ctx.checkpoint({ s, u: st.u })
    await ctx.send('next', s)
    if (await ctx.recv('prev') !== s) throw new Error('out of step')
    st.u = st.u.map((x) => x + s)
  }
  const parts = await ctx.gather(st.u, 0)
  return parts?.flat()
}

t.test('a cut of 2 ranks restarted at 3 (and of 3 at 2) gives the uninterrupted answer', async (t) => {
  const n = 17
  const steps = 12
  const settings = { mode: 'coordinated', intervalSec: 0 } as const
  const serial = Array.from({ length: n }, (_, i) => i + steps * (steps - 1) / 2)
  for (const [from, to] of [[2, 3], [3, 2]] as const) {
    const cuts = new Map<number, CutEnvelope[]>()
    const whole = await Promise.all(memoryJob(ringLinks(from), [], {
      checkpoint: settings,
      onCheckpoint: (rank, json) => {
        const env = JSON.parse(json) as unknown
        if (!isCutEnvelope(env)) return
        const row = cuts.get(env.$mvmCut) ?? []
        row[rank] = env
        cuts.set(env.$mvmCut, row)
      }
    }).map(async (c) => await bump(c, n, steps)))
    t.same(whole[0], serial, `${from} ranks uninterrupted: the serial answer`)
    const mid = [...cuts.values()][Math.floor(cuts.size / 2)]!
    t.equal(mid.filter(Boolean).length, from, 'a complete cut of the old layout')
    const env = resizeEnvelope(mid)
    const ctxs = memoryJob(ringLinks(to), [], { checkpoint: settings, restored: Array.from({ length: to }, () => env) })
    t.same(ctxs.map((c) => c.resized?.fromSize), Array(to).fill(from), 'every new rank sees the old size')
    t.equal(ctxs[0]!.restored, undefined, 'restored is for restarts at the same size')
    const again = await Promise.all(ctxs.map(async (c) => await bump(c, n, steps)))
    t.same(again[0], serial, `resumed from cut ${env.$mvmResize.cut} at ${to} ranks: the serial answer`)
  }
})

t.test('onResize runs nothing on a run that did not start from a resize', async (t) => {
  const [ctx] = memoryJob(ringLinks(2), [], { checkpoint: { mode: 'coordinated', intervalSec: 0 } })
  let called = false
  t.equal(await ctx!.onResize(() => { called = true; return 1 }), undefined)
  t.notOk(called)
  t.equal(ctx!.resized, undefined)
})
