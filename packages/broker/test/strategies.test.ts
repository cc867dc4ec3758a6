import t from 'tap'
import type { Candidate, SchedulingStrategy } from '@mvm/broker'
import { createStrategyRegistry, roundRobin, leastLoaded, pack, spread } from '@mvm/broker/internal'
import { Cluster } from '../src/cluster.js'
import { node } from './fixtures/helpers.js'

function cand (peerId: string, capacity: number, over: Partial<Candidate> = {}): Candidate {
  return { ...node(peerId, { freeSlots: capacity, totalSlots: capacity }), capacity, ...over }
}

function counts (placement: string[] | null): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of placement ?? []) out[p] = (out[p] ?? 0) + 1
  return out
}

const job = (size: number, memoryMB = 0): { jobId: string, size: number, memoryMB: number } => ({ jobId: 'j', size, memoryMB })

t.test('registry resolves the four strategies by name and refuses unknown names', async (t) => {
  const r = createStrategyRegistry()
  t.same(r.names(), ['least-loaded', 'pack', 'round-robin', 'spread'])
  for (const n of r.names()) t.equal(r.resolve(n).name, n)
  t.equal(r.resolve({ type: 'pack' }).name, 'pack')
  t.throws(() => r.resolve('random'), { code: 'E_UNKNOWN_COMPONENT', message: /unknown scheduling strategy "random"; known: least-loaded, pack, round-robin, spread/ })
})

t.test('pack fills one node before the next; spread puts one rank per node first', async (t) => {
  const nodes = [cand('a', 4), cand('b', 4), cand('c', 4)]
  t.same(counts(pack().place(job(4), nodes)), { a: 4 }, 'whole job on one node')
  t.same(counts(pack().place(job(6), nodes)), { a: 4, b: 2 }, 'fewest nodes')
  t.same(counts(pack().place(job(3), [cand('a', 8), cand('b', 3)])), { b: 3 }, 'best fit keeps the big node free')
  t.same(counts(spread().place(job(3), nodes)), { a: 1, b: 1, c: 1 })
  t.same(counts(spread().place(job(5), nodes)), { a: 2, b: 2, c: 1 })
  t.same(counts(spread().place(job(4), [cand('a', 1), cand('b', 4)])), { a: 1, b: 3 }, 'doubles up only where room is left')
})

t.test('round-robin continues where the previous decision stopped', async (t) => {
  const s = roundRobin()
  const nodes = [cand('a', 4), cand('b', 4), cand('c', 4)]
  t.same(s.place(job(1), nodes), ['a'])
  t.same(s.place(job(1), nodes), ['b'])
  t.same(s.place(job(2), nodes), ['c', 'a'])
  t.same(s.place(job(4), [cand('a', 1), cand('b', 4)]), ['b', 'a', 'b', 'b'], 'skips full nodes')
})

t.test('least-loaded prefers low load, then free slots', async (t) => {
  const s = leastLoaded()
  const nodes = [cand('a', 4, { load: 0.9 }), cand('b', 4, { load: 0.1 }), cand('c', 4, { load: 0.1, freeSlots: 2, capacity: 2 })]
  t.same(s.place(job(1), nodes), ['b'], 'b: same load as c, more free slots')
  const p = s.place(job(6), nodes)!
  t.equal(p.length, 6)
  t.ok((counts(p).a ?? 0) <= 1, 'the loaded node gets the least')
  t.ok(Object.entries(counts(p)).every(([peer, n]) => n <= nodes.find((c) => c.peerId === peer)!.capacity), 'capacity respected')
})

t.test('every strategy is all-or-nothing and never exceeds capacity', async (t) => {
  const strategies: SchedulingStrategy[] = [roundRobin(), leastLoaded(), pack(), spread()]
  const nodes = [cand('a', 3), cand('b', 2), cand('c', 1)]
  for (const s of strategies) {
    t.equal(s.place(job(7), nodes), null, `${s.name}: 7 ranks do not fit in 6 slots`)
    t.equal(s.place(job(1), []), null, `${s.name}: empty cluster`)
    const p = s.place(job(6), nodes)
    t.same(counts(p), { a: 3, b: 2, c: 1 }, `${s.name}: exactly full`)
  }
})

t.test('cluster view: constraints filter first, memory and reservations limit capacity', async (t) => {
  const c = new Cluster()
  c.update([
    node('a', { group: 'g1', labels: { gpu: 'yes' }, freeSlots: 4, freeMemoryMB: 1000 }),
    node('b', { group: 'g1', labels: {}, freeSlots: 4, freeMemoryMB: 8000 }),
    node('c', { group: 'g2', labels: { gpu: 'yes' }, freeSlots: 4 }),
    node('d', { state: 'down' })
  ])
  const ids = (xs: Candidate[]): string[] => xs.map((x) => x.peerId).sort()
  t.same(ids(c.candidates(undefined, 0)), ['a', 'b', 'c'], 'down nodes are never candidates')
  t.same(ids(c.candidates({ group: 'g1' }, 0)), ['a', 'b'])
  t.same(ids(c.candidates({ labels: { gpu: 'yes' } }, 0)), ['a', 'c'])
  t.same(ids(c.candidates({ group: 'g1', labels: { gpu: 'yes' } }, 0)), ['a'])
  t.same(ids(c.candidates({ nodes: ['b', 'd', 'zz'] }, 0)), ['b'])
  t.equal(c.candidates({ nodes: ['a'] }, 300)[0]!.capacity, 3, 'memory limits a: 1000 MB / 300 MB per rank')
  t.same(ids(c.candidates(undefined, 2000)), ['b', 'c'], 'a cannot hold one 2000 MB rank')

  // two jobs between two heartbeats: the broker's own reservations prevent oversubscription
  c.reserve('j1', ['b', 'b', 'b'], 1000)
  t.equal(c.candidates({ nodes: ['b'] }, 1000)[0]!.capacity, 1)
  c.reserve('j2', ['b'], 1000)
  t.same(c.candidates({ nodes: ['b'] }, 0), [], 'b is full although its last report said 4 free')
  t.equal(c.totalFreeSlots(), 8)
  // a newer report that already counts the jobs: no double counting
  c.update([node('b', { group: 'g1', freeSlots: 0, freeMemoryMB: 4000 })])
  t.same(c.candidates({ nodes: ['b'] }, 0), [])
  c.release('j1')
  const b = c.candidates({ nodes: ['b'] }, 1000)
  t.same(b, [], 'reported free slots still bound the node')
  c.update([node('b', { group: 'g1', freeSlots: 3, freeMemoryMB: 4000 })])
  t.equal(c.candidates({ nodes: ['b'] }, 1000)[0]!.capacity, 3, 'total 4 minus 1 reserved slot; memory of j2 already in the report')
  c.markDown('b')
  t.same(c.candidates({ nodes: ['b'] }, 0), [])
})
