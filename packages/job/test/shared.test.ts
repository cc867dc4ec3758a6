// ctx.shared in one process (the SDK's logic): a histogram built by compare-and-set loops from
// 4 ranks equals the serial one, and get/put/compareAndSet keep their meaning at remote homes.
import t from 'tap'
import type { JobContext } from '@mvm/job'
import { memoryJob, ringLinks } from './memory-transport.js'

const BUCKETS = 5
const items = (rank: number): number[] => Array.from({ length: 60 }, (_, i) => (rank * 7 + i * 3) % 11)

async function histogram (ctx: JobContext): Promise<number[] | undefined> {
  for (const v of items(ctx.rank)) {
    const key = `bucket-${v % BUCKETS}`
    for (;;) {
      const cur = await ctx.shared.get(key) as number | undefined
      if (await ctx.shared.compareAndSet(key, cur, (cur ?? 0) + 1)) break
    }
  }
  await ctx.barrier()
  const out = ctx.rank === 0 ? await Promise.all(Array.from({ length: BUCKETS }, async (_, b) => (await ctx.shared.get(`bucket-${b}`) as number | undefined) ?? 0)) : undefined
  await ctx.barrier()
  return out
}

t.test('a compare-and-set histogram from 4 ranks equals the serial one', async (t) => {
  const serial = new Array<number>(BUCKETS).fill(0)
  for (let r = 0; r < 4; r++) for (const v of items(r)) serial[v % BUCKETS]!++
  const out = await Promise.all(memoryJob(ringLinks(4)).map(histogram))
  t.same(out[0], serial)
  const homes = new Set(Array.from({ length: BUCKETS }, (_, b) => memoryJob(ringLinks(4))[0]!.shared.home(`bucket-${b}`)))
  t.ok(homes.size > 1, `the buckets live on ${homes.size} ranks`)
})

t.test('get, put and compareAndSet', async (t) => {
  const [a, b] = memoryJob(ringLinks(2))
  const key = ['k0', 'k1', 'k2', 'k3'].find((k) => a!.shared.home(k) === 1)!
  t.equal(await a!.shared.get(key), undefined, 'never put')
  t.equal(await a!.shared.compareAndSet(key, 1, 2), false, 'expected value differs')
  t.equal(await a!.shared.compareAndSet(key, undefined, { n: 1 }), true, 'set from nothing')
  t.same(await b!.shared.get(key), { n: 1 }, 'its home sees it')
  await b!.shared.put(key, new Float64Array([1.5, 2]))
  t.same(await a!.shared.get(key), new Float64Array([1.5, 2]), 'a typed array keeps its type')
  t.equal(await a!.shared.compareAndSet(key, new Float64Array([1.5, 2]), 3), true, 'typed arrays compare by content')
  await t.rejects(a!.shared.get(''), /key must be a non-empty string/)
})
