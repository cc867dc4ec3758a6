import t from 'tap'
import type { JobContext } from '@mvm/job'
import { resolveOp } from '@mvm/job/internal'
import { collJob } from './coll-transport.js'

const SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9]
const log2 = (p: number): number => Math.ceil(Math.log2(p))
const popcount = (v: number): number => v.toString(2).replaceAll('0', '').length
/** Levels of a binomial tree over n members (its deepest member); at most ceil(log2 n). */
const treeDepth = (n: number): number => Math.max(...Array.from({ length: n }, (_, v) => popcount(v)))
/** Placements: none (all remote), two nodes in blocks, two interleaved, three, one node, scattered. */
const placements = (p: number): Array<[string, number[] | undefined]> => [
  ['no locality', undefined],
  ['2 nodes, blocks', Array.from({ length: p }, (_, r) => (r < Math.ceil(p / 2) ? 7 : 3))],
  ['2 nodes, interleaved', Array.from({ length: p }, (_, r) => r % 2)],
  ['3 nodes', Array.from({ length: p }, (_, r) => (r * 5) % 3)],
  ['1 node', Array.from({ length: p }, () => 42)],
  ['scattered', Array.from({ length: p }, (_, r) => [4, 1, 4, 0, 2, 1, 1, 9, 0][r]!)]
]
const BIG = 5003 // above the large threshold, not a multiple of any team size

/** A float that makes sums order-sensitive. */
const fl = (r: number, i: number): number => Math.sin(r * 7919 + i * 104729) * 10 ** ((r + i) % 7)

const all = async <T>(ctxs: JobContext[], f: (c: JobContext) => Promise<T>): Promise<T[]> => await Promise.all(ctxs.map(f))

const bits = (v: unknown): string => {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
  if (Array.isArray(v)) return `[${v.map(bits).join(',')}]`
  if (typeof v === 'number') return Buffer.from(new Float64Array([v]).buffer).toString('hex')
  return `${typeof v}:${String(v)}`
}

const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b))

t.test('every collective, every size 1..9, every placement, consecutive calls share no tag', async (t) => {
  for (const p of SIZES) {
    for (const [name, locality] of placements(p)) {
      const job = collJob(p, { locality, seed: p * 31 + name.length })
      const ranks = Array.from({ length: p }, (_, r) => r)
      const seq = (f: (r: number) => number): number => ranks.map(f).reduce((a, b) => a + b)
      const res = await all(job.ctxs, async (c) => {
        const r = c.rank
        await c.barrier()
        const sum = await c.allReduce(r + 1, 'sum')
        const fsum = await c.allReduce(fl(r, 0), 'sum')
        const mn = await c.allReduce(10 - r, 'min')
        const mx = await c.allReduce([r, -r - 1], 'max')
        const prod = await c.allReduce(BigInt(r + 2), 'prod')
        const cat = await c.allReduce(String(r), (a: string, b: string) => a + b)
        // neither commutative nor associative: only a left fold in rank order gives this
        const lfold = await c.allReduce(r + 1, (a: number, b: number) => a * 3 - b)
        const f64 = await c.allReduce(Float64Array.from({ length: BIG }, (_, i) => fl(r, i)), 'sum')
        const f32 = await c.allReduce(Float32Array.from({ length: BIG }, (_, i) => r - i), 'max')
        const i32 = await c.allReduce(Int32Array.from({ length: 9 }, (_, i) => r * 100 + i), 'sum')
        const arr = await c.allReduce(Array.from({ length: BIG }, (_, i) => (i % 5) + r), 'sum')
        const perRoot = []
        for (const root of ranks) {
          perRoot.push({
            b: await c.broadcast(r === root ? { from: root, v: new Float64Array([root, 0.5]) } : undefined, root),
            g: await c.gather(`v${r}`, root),
            s: await c.scatter(r === root ? ranks.map((x) => x * 10 + root) : undefined, root),
            red: await c.reduce(r + 1, 'sum', root),
            redf: await c.reduce(String(r), (a: string, b: string) => a + b, root),
            redt: await c.reduce(Int32Array.of(r, 1), 'sum', root)
          })
        }
        await c.barrier()
        return { sum, fsum, mn, mx, prod, cat, lfold, f64, f32, i32, arr, perRoot }
      })
      const what = `p=${p}, ${name}`
      t.same(job.collisions, [], `${what}: no (from, to, tag) used twice`)
      let expectedFold = 1
      for (let r = 1; r < p; r++) expectedFold = expectedFold * 3 - (r + 1)
      const ok: boolean[] = []
      for (const [r, x] of res.entries()) {
        ok.push(x.sum === p * (p + 1) / 2, close(x.fsum, seq((q) => fl(q, 0))), x.mn === 11 - p, bits(x.mx) === bits([p - 1, -1]))
        ok.push(x.prod === ranks.reduce((a, q) => a * BigInt(q + 2), 1n), x.cat === ranks.join(''), x.lfold === expectedFold)
        ok.push(x.f64 instanceof Float64Array && x.f64.length === BIG && x.f64.every((v, i) => close(v, seq((q) => fl(q, i)))))
        ok.push(x.f32 instanceof Float32Array && x.f32.every((v, i) => v === p - 1 - i))
        ok.push(x.i32 instanceof Int32Array && x.i32.every((v, i) => v === 100 * p * (p - 1) / 2 + p * i))
        ok.push(Array.isArray(x.arr) && x.arr.every((v, i) => v === p * (i % 5) + p * (p - 1) / 2))
        for (const [root, y] of x.perRoot.entries()) {
          ok.push(y.b?.from === root && y.b.v instanceof Float64Array && y.b.v[0] === root)
          ok.push(r === root ? JSON.stringify(y.g) === JSON.stringify(ranks.map((q) => `v${q}`)) : y.g === undefined)
          ok.push(y.s === r * 10 + root)
          ok.push(r === root ? y.red === p * (p + 1) / 2 : y.red === undefined)
          ok.push(r === root ? y.redf === ranks.join('') : y.redf === undefined)
          ok.push(r === root ? bits(y.redt) === bits(Int32Array.of(p * (p - 1) / 2, p)) : y.redt === undefined)
        }
      }
      t.equal(ok.indexOf(false), -1, `${what}: every value right on every rank`)
      // built-in ops: one fixed combination tree, so the same bits on every rank
      for (const k of ['fsum', 'f64', 'f32', 'arr'] as const) {
        t.equal(new Set(res.map((x) => bits(x[k]))).size, 1, `${what}: ${k} bitwise equal on every rank`)
      }
    }
  }
})

t.test('results do not depend on arrival order: same bits under other delivery shuffles', async (t) => {
  for (const p of [3, 4, 7, 8]) {
    for (const [name, locality] of placements(p)) {
      const runs = []
      for (const seed of [1, 2, 3]) {
        const job = collJob(p, { locality, seed })
        runs.push(await all(job.ctxs, async (c) => bits([
          await c.allReduce(fl(c.rank, 1), 'sum'),
          await c.allReduce(Float64Array.from({ length: BIG }, (_, i) => fl(c.rank, i)), 'sum'),
          await c.reduce(fl(c.rank, 2), 'sum', p - 1) ?? 0
        ])))
      }
      t.equal(new Set(runs.flat()).size, p === 1 ? 1 : 2, `p=${p}, ${name}: one allReduce answer everywhere, one reduce answer at the root`)
      t.same(runs[1], runs[0])
      t.same(runs[2], runs[0])
    }
  }
})

t.test('typed arrays come back typed even over a JSON transport (as today\'s runtime)', async (t) => {
  for (const p of SIZES) {
    const job = collJob(p, { json: true, seed: p })
    const res = await all(job.ctxs, async (c) => [
      await c.allReduce(Float64Array.from({ length: BIG }, (_, i) => c.rank + i / 4), 'sum'),
      await c.allReduce(Int32Array.of(c.rank, -c.rank), 'min'),
      await c.reduce(Float32Array.of(c.rank + 0.5), 'sum', p - 1)
    ] as const)
    for (const [r, [big, small, red]] of res.entries()) {
      t.ok(big instanceof Float64Array && big.every((v, i) => v === p * (p - 1) / 2 + p * i / 4), `p=${p} rank ${r}: Float64Array sum`)
      t.ok(small instanceof Int32Array && small[0] === 0 && small[1] === 1 - p, `p=${p} rank ${r}: Int32Array min`)
      if (r === p - 1) t.ok(red instanceof Float32Array && red[0] === p * p / 2, `p=${p}: Float32Array reduce at the root`)
    }
  }
})

t.test('message and round counts per algorithm (no locality: every rank remote)', async (t) => {
  for (const p of SIZES) {
    const p2 = 2 ** Math.floor(Math.log2(p))
    const rem = p - p2
    const job = collJob(p, { seed: p })
    const cost = async (f: (c: JobContext) => Promise<unknown>): Promise<ReturnType<typeof job.take>> => { job.take(); await all(job.ctxs, f); return job.take() }
    const small = await cost(async (c) => await c.allReduce(c.rank, 'sum'))
    if (rem === 0) t.equal(small.rounds, log2(p), `p=${p}: allReduce of a number, recursive doubling: ceil(log2 p) rounds`)
    else t.ok(small.rounds >= log2(p) && small.rounds <= Math.log2(p2) + 2, `p=${p}: allReduce of a number, ${small.rounds} rounds: folded to ${p2} ranks, +2 at most`)
    t.equal(small.messages, p2 * Math.log2(p2) + 2 * rem, `p=${p}: allReduce messages`)
    const bar = await cost(async (c) => { await c.barrier() })
    t.equal(bar.rounds, log2(p), `p=${p}: dissemination barrier rounds`)
    t.equal(bar.messages, p * log2(p), `p=${p}: barrier messages`)
    for (const root of [0, p - 1]) {
      for (const [what, f] of [
        ['broadcast', async (c: JobContext) => await c.broadcast(1, root)],
        ['gather', async (c: JobContext) => await c.gather(1, root)],
        ['scatter', async (c: JobContext) => await c.scatter(c.rank === root ? new Array(p).fill(1) : undefined, root)],
        ['reduce', async (c: JobContext) => await c.reduce(1, 'sum', root)]
      ] as const) {
        const k = await cost(f)
        t.same([k.messages, k.rounds], [p - 1, treeDepth(p)], `p=${p} root ${root}: ${what} is a binomial tree`)
        t.ok(k.rounds <= log2(p))
      }
    }
    const custom = await cost(async (c) => await c.allReduce(c.rank, (a: number, b: number) => a + b))
    t.equal(custom.rounds, 2 * treeDepth(p), `p=${p}: a function op gathers along a tree and broadcasts back`)
    const n = 8192
    const big = await cost(async (c) => await c.allReduce(new Float64Array(n).fill(c.rank), 'sum'))
    if (p >= 4 && rem === 0) {
      t.equal(big.rounds, 2 * Math.log2(p), `p=${p}: large allReduce is reduce-scatter + allgather, 2 log2 p rounds`)
      t.equal(big.elements, 2 * n * (p - 1), `p=${p}: moves 2n(p-1)/p elements per rank (doubling would move n log2 p)`)
    } else if (p >= 4) {
      t.equal(big.rounds, 2 * Math.log2(p2) + 2, `p=${p}: large allReduce, folded to ${p2} ranks first`)
      t.equal(big.elements, 2 * n * (p2 - 1) + 2 * rem * n, `p=${p}: fold-in and hand-back move whole values`)
    }
  }
  t.end()
})

t.test('placement-aware: combine on a node before crossing', async (t) => {
  for (const [p, nodes] of [[4, 2], [8, 2], [8, 4], [6, 3], [9, 3], [5, 2]] as const) {
    const locality = Array.from({ length: p }, (_, r) => Math.floor(r * nodes / p))
    const perNode = Math.ceil(p / nodes)
    const aware = collJob(p, { locality, seed: p })
    const flat = collJob(p, { locality, seed: p, tellLocality: false })
    const cost = async (job: typeof aware, f: (c: JobContext) => Promise<unknown>): Promise<ReturnType<typeof aware.take>> => { job.take(); await all(job.ctxs, f); return job.take() }
    const small = async (c: JobContext): Promise<unknown> => await c.allReduce(c.rank, 'sum')
    const a = await cost(aware, small)
    const f = await cost(flat, small)
    const leadersOnly = collJob(nodes, { seed: 5 })
    const l = await cost(leadersOnly, small)
    t.same([a.crossRounds, a.crossMessages], [l.rounds, l.messages], `p=${p} on ${nodes} nodes: what crosses is recursive doubling among ${nodes} leaders`)
    t.ok(a.crossRounds <= 2 * log2(p), `p=${p}: within 2·ceil(log2 p) cross-node hops`)
    t.equal(a.rounds, a.crossRounds + (perNode > 1 ? 2 : 0), `p=${p}: plus one round to the node's leader and one back (a star on a node)`)
    if (nodes === 2) t.same([a.crossRounds, a.rounds], [1, 3], `${p} ranks on 2 nodes: 1 cross-node round, 3 in all`)
    t.ok(a.crossMessages < f.crossMessages, `p=${p}: fewer cross-node messages than without locality (${a.crossMessages} < ${f.crossMessages})`)
    for (const [what, fn] of [
      ['barrier', async (c: JobContext) => { await c.barrier() }],
      ['broadcast', async (c: JobContext) => await c.broadcast(1, p - 1)],
      ['gather', async (c: JobContext) => await c.gather(1, p - 1)],
      ['scatter', async (c: JobContext) => await c.scatter(c.rank === 1 ? new Array(p).fill(0) : undefined, 1)],
      ['reduce', async (c: JobContext) => await c.reduce(1, 'max', 2)]
    ] as const) {
      const k = await cost(aware, fn)
      const nodesCrossed = what === 'barrier' ? nodes * log2(nodes) : nodes - 1
      t.equal(k.crossMessages, nodesCrossed, `p=${p} on ${nodes} nodes: ${what} crosses once per node`)
    }
    t.same(aware.collisions, [])
  }
})

t.test('errors', async (t) => {
  const job = collJob(3)
  const [c0] = job.ctxs
  await t.rejects(c0!.scatter([1], 0), { code: 'E_BAD_REQUEST', message: /array of 3/ })
  await t.rejects(c0!.reduce(1, 'sum', 3), { code: 'E_BAD_REQUEST', message: /root 3/ })
  await t.rejects(c0!.gather(1, -1), { code: 'E_BAD_REQUEST' })
  t.throws(() => collJob(3, { locality: [0, 1] }), { code: 'E_BAD_REQUEST', message: /locality/ })
  t.throws(() => collJob(2, { locality: [0, 0.5] }), { code: 'E_BAD_REQUEST' })
  const sum = resolveOp('sum')
  t.throws(() => sum(new Float64Array(2), new Float32Array(2)), { code: 'E_BAD_REQUEST', message: /Float64Array of 2.*Float32Array of 2/ })
  t.throws(() => sum(new Int32Array(2), new Int32Array(3)), { code: 'E_BAD_REQUEST' })
  const i = sum(Int32Array.of(2 ** 31 - 1), Int32Array.of(1)) as Int32Array
  t.ok(i instanceof Int32Array && i[0] === -(2 ** 31), 'an Int32Array sum wraps as Int32Array arithmetic does')
  const f = resolveOp('max')(Float32Array.of(0.1, 5), Float32Array.of(1, 2)) as Float32Array
  t.ok(f instanceof Float32Array && f[0] === 1 && f[1] === 5)
  t.same(resolveOp('sum')([Int32Array.of(1)], [Int32Array.of(2)]), [Int32Array.of(3)], 'typed arrays inside arrays too')
})
