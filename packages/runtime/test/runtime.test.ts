import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { expandTopology } from '@mvm/model'
import { compileProgram, sdkUrl } from '@mvm/runtime'
import { cluster, launch, run } from './fixtures.js'

const COLLECTIVES = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  await ctx.barrier()
  const b = await ctx.broadcast(ctx.rank === 1 ? { v: 'from1' } : null, 1)
  const sum = await ctx.reduce(ctx.rank + 1, 'sum')
  const all = await ctx.allReduce([ctx.rank, 10 - ctx.rank], 'max')
  const custom = await ctx.allReduce(String(ctx.rank), (a, b) => a + b)
  const g = await ctx.gather(ctx.rank * 10, 2)
  const s = await ctx.scatter(ctx.rank === 3 ? ['w', 'x', 'y', 'z'] : undefined, 3)
  return { b, sum, all, custom, g, s }
})`

for (const shape of ['ring', 'star'] as const) {
  t.test(`every collective on a ${shape} across two nodes`, async (t) => {
    const c = cluster(t)
    const res = await run(c, { source: COLLECTIVES, graph: expandTopology({ shape, size: 4 } as never), placement: ['A', 'B', 'A', 'B'] })
    for (const r of res) {
      t.equal(r.error, undefined)
      const x = r.result as Record<string, unknown>
      t.same(x.b, { v: 'from1' })
      t.equal(x.sum ?? null, r.rank === 0 ? 10 : null)
      t.same(x.all, [3, 10])
      t.equal(x.custom, '0123')
      t.same(x.g ?? null, r.rank === 2 ? [0, 10, 20, 30] : null)
      t.equal(x.s, 'wxyz'[r.rank])
    }
  })
}

t.test('compile: cache hit on the second run, syntax errors name file and line', async (t) => {
  const dir = t.testdir()
  const program = { source: "import { job } from '@mvm/job'\nexport default job(async () => 1 as number)\n", language: 'ts' as const, path: 'p.ts' }
  const first = await compileProgram(program, { cacheDir: dir, sdkUrl })
  const second = await compileProgram(program, { cacheDir: dir, sdkUrl })
  t.equal(first.cached, false)
  t.equal(second.cached, true)
  t.equal(second.codePath, first.codePath)
  const code = readFileSync(first.codePath, 'utf8')
  t.match(code, sdkUrl, 'the SDK import is rewritten to its file URL')
  t.notMatch(code, /as number/, 'types are stripped')
  await t.rejects(compileProgram({ source: 'const x = ;\nlet', language: 'ts', path: 'bad.ts' }, { cacheDir: dir, sdkUrl }), { code: 'E_VALIDATION', message: /bad\.ts:1:11/ })
  await t.rejects(compileProgram({ source: 'x', language: 'py' as never }, { cacheDir: dir, sdkUrl }), { code: 'E_BAD_REQUEST', message: /language/ })
})

t.test('point to point: local and cross-node order, one-to-many group send', async (t) => {
  const c = cluster(t)
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  const n = 200
  if (ctx.rank === 0) {
    for (let i = 0; i < n; i++) await ctx.send('spokes', i)
    const back = []
    for (let i = 0; i < 3; i++) back.push((await ctx.recv()).value)
    return back.sort()
  }
  let last = -1, ok = true
  for (let i = 0; i < n; i++) { const v = await ctx.recv('hub'); if (v !== last + 1) ok = false; last = v }
  await ctx.send('hub', 'r' + ctx.rank + ':' + ok + ':' + last)
  return null
})`
  const res = await run(c, { source, graph: expandTopology({ shape: 'star', size: 4 } as never), placement: ['A', 'A', 'B', 'B'], queue: { type: 'fifo', capacity: 4, encoding: 'protobuf' } })
  t.same(res.map((r) => r.error), [undefined, undefined, undefined, undefined])
  t.same(res[0]!.result, ['r1:true:199', 'r2:true:199', 'r3:true:199'], 'every spoke got all 200 items in order (local r1, remote r2, r3)')
  t.ok(c.net.sent() > 0, 'the remote path was used')
})

t.test('a crashing rank: error in its result, work dir kept, logs kept', async (t) => {
  const c = cluster(t)
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  ctx.log('starting', { rank: ctx.rank })
  if (ctx.rank === 1) throw new Error('boom at rank 1')
  if (ctx.rank === 2) process.exit(3)
  return ctx.rank
})`
  const insts = await launch(c, { source, graph: expandTopology({ shape: 'ring', size: 4 } as never), placement: ['A', 'A', 'B', 'B'] })
  const a = await insts.A!.done
  const b = await insts.B!.done
  t.equal(a[0]!.result, 0)
  t.equal(a[1]!.exitCode, 1)
  t.match(a[1]!.error, { message: /boom at rank 1/ })
  t.equal(b[0]!.rank, 2)
  t.equal(b[0]!.exitCode, 3)
  t.match(b[0]!.error, { code: 'E_JOB_FAILED', message: /code 3/ })
  t.ok(existsSync(insts.A!.workDir), 'failed job keeps its work dir')
  t.match(readFileSync(insts.A!.logs[0]!.out, 'utf8'), /\[rank 0\] starting \{"rank":0\}/)
})

t.test('success removes the work dir; a bad program fails start clearly', async (t) => {
  const c = cluster(t)
  const insts = await launch(c, { source: "import { job } from '@mvm/job'\nexport default job(async (ctx) => { await ctx.checkpoint({ at: 1 }); return ctx.rank })", graph: expandTopology({ shape: 'ring', size: 2 } as never), placement: ['A', 'B'] })
  const [r] = await insts.A!.done
  t.equal(r!.result, 0)
  t.notOk(existsSync(insts.A!.workDir))
  await t.rejects(launch(c, { source: 'export default 42', graph: expandTopology({ shape: 'ring', size: 2 } as never), placement: ['A', 'A'] }), { code: 'E_JOB_FAILED', message: /default export must be job/ })
  await t.rejects(c.runtimes.A!.instantiate({ jobId: 'x', owner: 'o', program: { source: '', language: 'ts' }, graph: expandTopology({ shape: 'ring', size: 2 } as never), placement: ['A'], self: 'A', params: {}, resources: { memoryMB: 64, wallTimeSec: 5 }, queue: { type: 'fifo', capacity: 1, encoding: 'json' } }, c.net.link('A')), { code: 'E_BAD_REQUEST', message: /placement/ })
})

t.test('terminate stops every local rank', async (t) => {
  const c = cluster(t)
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => { await ctx.recv('prev'); return 'never' })`
  const insts = await launch(c, { source, graph: expandTopology({ shape: 'ring', size: 4 } as never), placement: ['A', 'A', 'B', 'B'] })
  const t0 = Date.now()
  await Promise.all(Object.values(insts).map(async (i) => await i.terminate('cancelled by test')))
  t.comment(`terminate took ${Date.now() - t0} ms`)
  const all = [...await insts.A!.done, ...await insts.B!.done]
  t.equal(all.length, 4)
  for (const r of all) t.ok(r.error !== undefined && r.result === undefined, `rank ${r.rank} stopped: ${r.error?.message ?? ''}`)
  // the warm pool's idle processes have logs there too (sbx-*): count this job's ranks only
  t.same(readdirSync(join(c.dirs.A!, 'logs')).filter((f) => f.startsWith(`${insts.A!.jobId}.r`) && f.endsWith('.out')).length, 2, 'per-rank logs stay')
})

t.test('a cut asked for before the ranks start is taken at their first checkpoint points (not lost)', async (t) => {
  const c = cluster(t)
  // no cut of its own for an hour: a cut happens only if the request reaches the program
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  for (let s = 0; s < 6; s++) {
    await ctx.checkpoint({ s })
    if (ctx.rank === 0) await ctx.send('next', s); else await ctx.recv('prev')
  }
  return ctx.rank
})`
  const graph = expandTopology({ shape: 'line', size: 2 } as never)
  const placement = ['A', 'B']
  const jobId = `early-cut-${process.pid}`
  const insts = await Promise.all(placement.map(async (n) => await c.runtimes[n]!.instantiate({
    jobId, owner: 'tester', program: { source, language: 'ts', path: `${jobId}.ts` }, graph, placement, self: n, params: {},
    resources: { memoryMB: 256, wallTimeSec: 60 }, queue: { type: 'fifo', capacity: 16, encoding: 'json' },
    checkpoint: { mode: 'coordinated', intervalSec: 3600 }
  }, c.net.link(n))))
  const cuts: Array<{ rank: number, cut: unknown }> = []
  for (const i of insts) i.onCheckpoint((rank, json) => { cuts.push({ rank, cut: (JSON.parse(json) as { $mvmCut?: unknown }).$mvmCut }) })
  // rank 0's node acknowledges the request while its process does not exist yet
  t.equal(insts[0]!.requestCut(), true, 'rank 0 is here: the request is accepted')
  await Promise.all(insts.map(async (i) => await i.start()))
  const res = (await Promise.all(insts.map(async (i) => await i.done))).flat()
  t.same(res.map((r) => r.error), [undefined, undefined])
  t.same(cuts.sort((a, b) => a.rank - b.rank), [{ rank: 0, cut: 1 }, { rank: 1, cut: 1 }], 'one cut, every rank took its share')
})
