import t from 'tap'
import { job, toJobFunction } from '@mvm/job'
import { resolveOp } from '@mvm/job/internal'
import { memoryJob, ringLinks } from './memory-transport.js'

t.test('job() marks a program; toJobFunction unwraps it', async (t) => {
  const fn = async (): Promise<number> => 1
  t.equal(toJobFunction(job(fn)), fn)
  t.equal(toJobFunction(fn), fn)
  t.equal(toJobFunction({}), undefined)
  t.throws(() => job(5 as never), TypeError)
})

t.test('every collective on 5 ranks', async (t) => {
  const ctxs = memoryJob(ringLinks(5))
  const res = await Promise.all(ctxs.map(async (c) => {
    await c.barrier()
    const b = await c.broadcast(c.rank === 2 ? 'hello' : 'x', 2)
    const sum = await c.reduce(c.rank + 1, 'sum')
    const prod = await c.reduce(c.rank + 1, 'prod', 4)
    const mx = await c.allReduce([c.rank, -c.rank], 'max')
    const mn = await c.allReduce(c.rank + 10, 'min')
    const custom = await c.allReduce(String(c.rank), (a: string, b: string) => a + b)
    const g = await c.gather(c.rank * c.rank, 1)
    const s = await c.scatter(c.rank === 3 ? ['a', 'b', 'c', 'd', 'e'] : undefined, 3)
    return { b, sum, prod, mx, mn, custom, g, s }
  }))
  for (const [r, x] of res.entries()) {
    t.equal(x.b, 'hello')
    t.equal(x.sum, r === 0 ? 15 : undefined)
    t.equal(x.prod, r === 4 ? 120 : undefined)
    t.same(x.mx, [4, 0])
    t.equal(x.mn, 10)
    t.equal(x.custom, '01234', 'custom op folds in rank order')
    t.same(x.g, r === 1 ? [0, 1, 4, 9, 16] : undefined)
    t.equal(x.s, 'abcde'[r])
  }
})

t.test('ports, groups and errors', async (t) => {
  const links: Array<Record<string, { peer: number, peerPort: string }>> = [{ spoke0: { peer: 1, peerPort: 'hub' }, spoke1: { peer: 2, peerPort: 'hub' } }, { hub: { peer: 0, peerPort: 'spoke0' } }, { hub: { peer: 0, peerPort: 'spoke1' } }]
  const [hub, a, b] = memoryJob(links, [{ spokes: ['spoke0', 'spoke1'] }])
  await hub!.send('spokes', { n: 1 })
  t.same(await a!.recv('hub'), { n: 1 })
  t.same(await b!.recv('hub'), { n: 1 })
  await a!.send('hub', 'back')
  t.same(await hub!.recv(), { port: 'spoke0', value: 'back' })
  await t.rejects(hub!.send('nope', 1), { code: 'E_BAD_REQUEST', message: /no port "nope".*spoke0, spoke1, spokes \(group\)/ })
  await t.rejects(a!.recv('spoke9'), { code: 'E_BAD_REQUEST' })
  await t.rejects(hub!.scatter([1], 0), { code: 'E_BAD_REQUEST', message: /array of 3/ })
  await t.rejects(hub!.broadcast(1, 7), { code: 'E_BAD_REQUEST', message: /root 7/ })
  t.throws(() => resolveOp('avg' as never), { code: 'E_BAD_REQUEST' })
  t.throws(() => resolveOp('sum')(1, 'x'), { code: 'E_BAD_REQUEST', message: /sum/ })
  t.ok(Object.isFrozen(hub!.params))
})
