// Coordinated cuts in one process: a token ring with tokens always in flight runs to the end while
// every cut is recorded; then each complete cut is restarted on fresh contexts (as after a node
// loss) and must end exactly like the uninterrupted run, which only holds if the cut's channel
// state put the in-flight tokens back.
import t from 'tap'
import type { JobContext } from '@mvm/job'
import { memoryJob, ringLinks } from './memory-transport.js'

interface State { i: number, acc: number }
const N = 30
const W = 2

async function tokenRank (ctx: JobContext): Promise<State> {
  const restored = ctx.restored as State | undefined
  const s: State = restored === undefined ? { i: 0, acc: 0 } : { ...restored }
  if (restored === undefined) for (let k = 0; k < W; k++) await ctx.send('next', ctx.rank * 100 + k)
  while (s.i < N) {
    await ctx.checkpoint(s)
    const v = await ctx.recv('prev') as number
    s.acc = (s.acc * 31 + v) % 2147483647
    s.i++
    if (s.i <= N - W) await ctx.send('next', v + 1)
  }
  return s
}

const settings = { mode: 'coordinated', intervalSec: 0 } as const

t.test('every complete cut restarts to the uninterrupted answer', async (t) => {
  const size = 4
  const cuts = new Map<number, string[]>()
  const whole = await Promise.all(memoryJob(ringLinks(size), [], {
    checkpoint: settings,
    onCheckpoint: (rank, json) => {
      const c = (JSON.parse(json) as { $mvmCut: number }).$mvmCut
      const row = cuts.get(c) ?? []
      row[rank] = json
      cuts.set(c, row)
    }
  }).map(tokenRank))
  t.ok(cuts.size >= 3, `several cuts were taken (${cuts.size})`)
  let inFlight = 0
  for (const [c, row] of cuts) {
    t.equal(row.filter((x) => x !== undefined).length, size, `cut ${c} has every rank`)
    const envs = row.map((x) => JSON.parse(x) as { point: number, channels: Record<string, unknown[]> })
    t.equal(new Set(envs.map((e) => e.point)).size, 1, `cut ${c}: every rank at the same point`)
    inFlight += envs.reduce((n, e) => n + (e.channels.prev?.length ?? 0), 0)
    const again = await Promise.all(memoryJob(ringLinks(size), [], { checkpoint: settings, restored: envs }).map(tokenRank))
    t.same(again, whole, `restarted from cut ${c}: the same answer on every rank`)
  }
  t.ok(inFlight > 0, `the cuts carried tokens in flight (${inFlight})`)
})

t.test('a rank that skips a checkpoint gets a clear error, not a wrong answer', async (t) => {
  const ctxs = memoryJob(ringLinks(2), [], { checkpoint: settings })
  const runs = ctxs.map(async (ctx) => {
    await ctx.checkpoint({})
    if (ctx.rank === 0) await ctx.checkpoint({})
    await ctx.send('next', 1)
    return await ctx.recv('prev')
  })
  await t.rejects(runs[1]!, /read past its neighbour's checkpoint/, 'rank 1 names the mismatch')
})
