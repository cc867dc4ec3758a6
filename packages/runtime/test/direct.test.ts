import t from 'tap'
import { expandTopology } from '@mvm/model'
import { localityOf } from '../src/direct-wiring.js'
import { planDirect } from '../src/direct-pairs.js'
import { cluster, run } from './fixtures.js'

// Ranks on one node talk over their own socket pair, ranks on two nodes through the runtimes:
// both paths must keep values (typed arrays included), per-port order, credits and eof.
const line2 = expandTopology({ shape: 'line', size: 2, directed: false } as never)

const typed = `import { job } from '@mvm/job'
const make = () => ({
  f64: new Float64Array([1.5, -0, Infinity, NaN]),
  i32: new Int32Array([-7, 2 ** 31 - 1]),
  u8: new Uint8Array([0, 255]),
  big: new BigInt64Array([-(2n ** 63n)]),
  nested: { f32: new Float32Array([0.25]), list: [new Uint16Array([65535])] },
  map: new Map([['k', 1]]),
  none: undefined
})
const describe = (v) => JSON.stringify(v, (k, x) => ArrayBuffer.isView(x) ? [x.constructor.name, ...Array.from(x, String)] : x instanceof Map ? ['Map', ...x] : typeof x === 'bigint' ? String(x) : x === undefined ? 'undef' : x)
export default job(async (ctx) => {
  const sent = describe(make())
  if (ctx.rank === 0) {
    await ctx.send('next', make())
    await ctx.send('next', new Float64Array([3.25]))
    await ctx.broadcast(new Float64Array([9, 8]), 0)
    return sent
  }
  const a = await ctx.recv('prev')
  const b = await ctx.recv('prev')
  const c = await ctx.broadcast(undefined, 0)
  return { port: describe(a) === sent, single: b instanceof Float64Array && b[0] === 3.25, coll: c instanceof Float64Array && c.length === 2 && c[1] === 8, got: describe(a) }
})`

for (const placement of [['A', 'A'], ['A', 'B']]) {
  t.test(`typed arrays arrive as the same type with the same values, placement ${placement.join(',')}`, async (t) => {
    const c = cluster(t)
    const res = await run(c, { source: typed, language: 'js', graph: line2, placement })
    t.same(res.map((r) => r.error), [undefined, undefined])
    const r1 = res[1]!.result as { port: boolean, single: boolean, coll: boolean, got: string }
    t.equal(r1.got, res[0]!.result, 'port value, described')
    t.same(r1, { port: true, single: true, coll: true, got: r1.got })
    if (placement[1] === 'B') t.ok(c.net.sent() > 0, 'the remote path was used')
    else t.equal(c.net.sent(), 0, 'nothing went over the link')
  })
}

// ring of 3 on A,A,B: r0<->r1 direct, r1<->r2 and r2<->r0 cross-node; small capacity makes
// senders wait on credits over both paths
t.test('per-port order with credits on the direct and the remote path at once', async (t) => {
  const c = cluster(t)
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  const n = 3000
  const sending = (async () => { for (let i = 0; i < n; i++) { await ctx.send('next', i); await ctx.send('prev', -i) } })()
  let nextOk = true, prevOk = true
  for (let i = 0; i < n; i++) {
    if ((await ctx.recv('prev')) !== i) nextOk = false
    if ((await ctx.recv('next')) !== -i) prevOk = false
    if (i % 500 === 0) await new Promise((r) => setTimeout(r, 5))
  }
  await sending
  return [nextOk, prevOk]
})`
  const res = await run(c, { source, language: 'js', graph: expandTopology({ shape: 'ring', size: 3 } as never), placement: ['A', 'A', 'B'], queue: { type: 'fifo', capacity: 2, encoding: 'json' } })
  t.same(res.map((r) => r.error), [undefined, undefined, undefined])
  t.same(res.map((r) => r.result), [[true, true], [true, true], [true, true]])
})

t.test('a rank that finishes or crashes closes its direct peer\'s port after what it sent', async (t) => {
  const c = cluster(t)
  for (const end of ['return 1', 'throw new Error("boom")']) {
    const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  if (ctx.rank === 0) { for (let i = 0; i < 5; i++) await ctx.send('next', 'v' + i); ${end} }
  await new Promise((r) => setTimeout(r, 300))
  const got = []
  for (let i = 0; i < 5; i++) got.push(await ctx.recv('prev'))
  try { await ctx.recv('prev'); return 'no eof' } catch (e) { return { got, eof: e.code } }
})`
    const res = await run(c, { source, language: 'js', graph: line2, placement: ['A', 'A'], queue: { type: 'fifo', capacity: 8, encoding: 'json' } })
    t.same(res[1]!.result, { got: ['v0', 'v1', 'v2', 'v3', 'v4'], eof: 'E_INVALID_STATE' }, `rank 0: ${end}`)
    t.equal(res[0]!.error === undefined, end.startsWith('return'))
  }
})

t.test('a rank killed outright is an eof for its direct peer', async (t) => {
  const c = cluster(t)
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  if (ctx.rank === 0) { await ctx.send('next', 'a'); await new Promise((r) => setTimeout(r, 100)); process.kill(process.pid, 'SIGKILL') }
  const got = []
  for (let i = 0; i < 10; i++) { try { got.push(await ctx.recv('prev')) } catch (e) { return { got, eof: e.code } } }
  return 'no eof'
})`
  const res = await run(c, { source, language: 'js', graph: line2, placement: ['A', 'A'] })
  t.equal(res[0]!.error?.code, 'E_JOB_FAILED')
  t.same(res[1]!.result, { got: ['a'], eof: 'E_INVALID_STATE' })
})

t.test('terminate stops ranks that are blocked on the direct path', async (t) => {
  const c = cluster(t)
  const source = `import { job } from '@mvm/job'
export default job(async (ctx) => {
  for (;;) await ctx.send('next', new Uint8Array(1024))
})`
  const { launch } = await import('./fixtures.js')
  const insts = await launch(c, { source, language: 'js', graph: expandTopology({ shape: 'ring', size: 2 } as never), placement: ['A', 'A'], queue: { type: 'fifo', capacity: 4, encoding: 'json' } })
  const inst = insts.A!
  const pids = Object.values(inst.pids())
  t.equal(pids.length, 2)
  await inst.terminate('test over')
  const res = await inst.done
  t.same(res.map((r) => r.error?.code), ['E_ABORTED', 'E_ABORTED'])
  for (const pid of pids) t.throws(() => process.kill(pid, 0), 'rank process is gone')
})

t.test('plan and locality', async (t) => {
  const star = expandTopology({ shape: 'star', size: 4 } as never)
  const plan = planDirect(star, [0, 1, 3])
  t.same(plan.get(0), [{ peer: 1, edges: [['spoke0', 'hub']] }, { peer: 3, edges: [['spoke2', 'hub']] }])
  t.same(plan.get(1), [{ peer: 0, edges: [['hub', 'spoke0']] }, { peer: 3, edges: [] }], 'every local pair, edges or not')
  t.same(localityOf(['x', 'y', 'x', 'z']), [0, 1, 0, 2])
})

t.test('a job that ends while its socket pairs are being made leaves no socket open', async (t) => {
  const { DirectWiring } = await import('../src/direct-wiring.js')
  const { silentLogger } = await import('@mvm/core')
  const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap').length
  const before = sockets()
  // a destroyed socket's handle closes a few ticks later
  const settle = async (): Promise<number> => {
    for (let i = 0; i < 100 && sockets() !== before; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    return sockets()
  }
  const w = new DirectWiring(expandTopology({ shape: 'ring', size: 3 } as never), [0, 1, 2], silentLogger())
  // every rank terminated before it started: the job closes its wiring while open() is under way
  const opening = w.open()
  for (const r of [0, 1, 2]) w.drop(r)
  w.close()
  await opening
  t.equal(await settle(), before, 'every end made after the job closed is destroyed')
  t.equal(w.uplink(0, { frame () {}, closed () {} }), undefined, 'a closed wiring hands out no uplink')

  // ranks that never start: their ends, and the runtime's end of their uplinks, go at once
  const w2 = new DirectWiring(expandTopology({ shape: 'ring', size: 2 } as never), [0, 1], silentLogger())
  await w2.open()
  t.ok(sockets() > before, 'pairs hold sockets while open')
  w2.drop(0)
  w2.drop(1)
  t.equal(await settle(), before, 'no end is left behind by dropped ranks')
  w2.close()
})
