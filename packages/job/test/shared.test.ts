// ctx.shared in one process (the SDK's logic): a histogram built by compare-and-set loops from
// 4 ranks equals the serial one, and get/put/compareAndSet keep their meaning at remote homes;
// read replicas (get with { replica: true }) follow the home's writes.
import t from 'tap'
import type { JobContext } from '@mvm/job'
import { memoryJob, ringLinks } from './memory-transport.js'

const BUCKETS = 5
const items = (rank: number): number[] => Array.from({ length: 60 }, (_, i) => (rank * 7 + i * 3) % 11)

async function histogram (ctx: JobContext, replica = false): Promise<number[] | undefined> {
  for (const v of items(ctx.rank)) {
    const key = `bucket-${v % BUCKETS}`
    for (;;) {
      const cur = await ctx.shared.get(key, { replica }) as number | undefined
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
  const out = await Promise.all(memoryJob(ringLinks(4)).map(async (ctx) => await histogram(ctx)))
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

/** A key homed at `rank` in a job of `size`. */
function keyAt (ctx: JobContext, rank: number): string {
  for (let i = 0; i < 1000; i++) if (ctx.shared.home(`key-${i}`) === rank) return `key-${i}`
  throw new Error(`no key homed at ${rank}`)
}

/** Lets deliveries run (a macrotask turn each try) until `cond` holds; false after `tries`. */
async function until (cond: () => Promise<boolean>, tries = 5000): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return true
    await new Promise((resolve) => setImmediate(resolve))
  }
  return false
}

const PUSH_TAGS = 2 ** 52

t.test('a replica read sees another rank\'s put once the home applied it', async (t) => {
  const [a, , c] = memoryJob(ringLinks(3))
  const key = keyAt(a!, 1)
  t.equal(await a!.shared.get(key, { replica: true }), undefined, 'never put')
  await c!.shared.put(key, { v: 'x' })
  t.ok(await until(async () => (await a!.shared.get(key, { replica: true }) as { v?: string } | undefined)?.v === 'x'), 'the put reaches the replica')
  t.same(await a!.shared.get(key), { v: 'x' }, 'a plain get agrees')
  const got = await a!.shared.get(key, { replica: true }) as { v: string }
  got.v = 'changed by the caller'
  t.same(await a!.shared.get(key, { replica: true }), { v: 'x' }, 'what a replica read returns is a copy')
})

t.test('after the first, replica reads send no message; a write sends one push per other replica', async (t) => {
  let msgs = 0
  let pushes = 0
  const [a, , c] = memoryJob(ringLinks(3), [], { onSendRank: (_from, _to, tag) => { msgs++; if (tag >= PUSH_TAGS) pushes++ } })
  const key = keyAt(a!, 1)
  await c!.shared.put(key, 1)
  msgs = 0
  t.equal(await a!.shared.get(key, { replica: true }), 1)
  t.equal(msgs, 2, 'the first replica read is one round trip (subscribe and answer)')
  msgs = 0
  const reads: unknown[] = []
  for (let i = 0; i < 100; i++) reads.push(await a!.shared.get(key, { replica: true }))
  t.ok(reads.every((v) => v === 1), '100 replica reads give the value')
  t.equal(msgs, 0, '100 replica reads sent nothing')
  await c!.shared.put(key, 2)
  t.ok(await until(async () => await a!.shared.get(key, { replica: true }) === 2), 'the push arrived')
  t.equal(msgs, 3, 'a put at a remote home: request, answer and one push')
  t.equal(pushes, 1, 'one push (to the one replica)')
})

t.test('replica reads never go back under a stream of puts', async (t) => {
  const [a, , c] = memoryJob(ringLinks(3))
  const key = keyAt(a!, 1)
  const N = 300
  await a!.shared.get(key, { replica: true })
  // the writer gives the reader a turn after each put, so reads fall between the pushes
  const writer = (async () => { for (let i = 1; i <= N; i++) { await c!.shared.put(key, i); await new Promise((resolve) => setImmediate(resolve)) } })()
  const seen: number[] = []
  const done = await until(async () => {
    const v = (await a!.shared.get(key, { replica: true }) as number | undefined) ?? 0
    seen.push(v)
    return v === N
  }, 20_000)
  await writer
  t.ok(done, `the replica reached the last put (${seen.length} reads)`)
  t.ok(seen.every((v, i) => i === 0 || v >= seen[i - 1]!), 'every read is at least the one before')
  t.ok(new Set(seen).size > N / 10, `the reads saw ${new Set(seen).size} distinct versions on the way`)
})

t.test('a rank sees its own writes, and what it read at the home, in its replica at once', async (t) => {
  const [a, , c] = memoryJob(ringLinks(3))
  const key = keyAt(a!, 1)
  await a!.shared.get(key, { replica: true })
  await a!.shared.put(key, 'mine')
  t.equal(await a!.shared.get(key, { replica: true }), 'mine', 'own put')
  t.equal(await a!.shared.compareAndSet(key, 'mine', 'cas'), true)
  t.equal(await a!.shared.get(key, { replica: true }), 'cas', 'own compareAndSet')
  t.equal(await a!.shared.compareAndSet(key, 'stale', 'no'), false)
  t.equal(await a!.shared.get(key, { replica: true }), 'cas', 'a failed compareAndSet changes nothing')
  await c!.shared.put(key, 'theirs')
  t.equal(await a!.shared.compareAndSet(key, 'cas', 'late'), false, 'the home has moved on')
  t.equal(await a!.shared.get(key, { replica: true }), 'theirs', 'after the failed compareAndSet the replica holds the current value')
  const own = keyAt(a!, 0)
  await c!.shared.put(own, 7)
  t.equal(await a!.shared.get(own, { replica: true }), 7, 'a key homed here reads the home itself')
})

t.test('racing compareAndSets on replica reads: exactly one winner, and every replica converges', async (t) => {
  const ranks = memoryJob(ringLinks(4))
  const key = keyAt(ranks[0]!, 2)
  await ranks[0]!.shared.put(key, 'start')
  const seen = await Promise.all(ranks.map(async (r) => await r.shared.get(key, { replica: true })))
  t.same(seen, ['start', 'start', 'start', 'start'])
  const won = await Promise.all(ranks.map(async (r) => await r.shared.compareAndSet(key, 'start', `rank-${r.rank}`)))
  t.equal(won.filter(Boolean).length, 1, 'one winner')
  const winner = `rank-${won.indexOf(true)}`
  t.equal(await ranks[3]!.shared.get(key), winner)
  t.ok(await until(async () => (await Promise.all(ranks.map(async (r) => await r.shared.get(key, { replica: true })))).every((v) => v === winner)), 'every replica holds the winner')
})

t.test('the histogram with replica reads in its compare-and-set loops equals the serial one', async (t) => {
  const serial = new Array<number>(BUCKETS).fill(0)
  for (let r = 0; r < 4; r++) for (const v of items(r)) serial[v % BUCKETS]!++
  const out = await Promise.all(memoryJob(ringLinks(4)).map(async (ctx) => await histogram(ctx, true)))
  t.same(out[0], serial)
})
