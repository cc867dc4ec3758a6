import t from 'tap'
import type { Test } from 'tap'
import { expandTopology } from '@mvm/model'
import type { RankGraph } from '@mvm/model'
import { asymmetries, degrees, isConnected, linkCount, portsOf } from './topology-fixtures.js'

function check (t: Test, g: RankGraph, size: number, links: number): void {
  t.equal(g.size, size, 'size')
  t.equal(g.ranks.length, size, 'rank count')
  t.same(g.ranks.map((n) => n.rank), Array.from({ length: size }, (_, i) => i), 'ranks numbered in order')
  t.equal(g.groups.length, size, 'one group map per rank')
  t.same(asymmetries(g), [], 'every link is symmetric')
  t.ok(isConnected(g), 'connected')
  t.equal(linkCount(g), links, 'link count')
}

t.test('ring', async (t) => {
  const g = expandTopology({ shape: 'ring', size: 4 })
  check(t, g, 4, 4)
  t.same(degrees(g), [2, 2, 2, 2])
  t.same(portsOf(g, 0), { next: '1.prev', prev: '3.next' })
  t.same(portsOf(g, 3), { next: '0.prev', prev: '2.next' })
  // two ranks: both links join the same pair on opposite port pairs
  const two = expandTopology({ shape: 'ring', size: 2 })
  check(t, two, 2, 2)
  t.same(portsOf(two, 0), { next: '1.prev', prev: '1.next' })
  check(t, expandTopology({ shape: 'ring', size: 97 }), 97, 97)
})

t.test('line, undirected and directed', async (t) => {
  const g = expandTopology({ shape: 'line', size: 4 })
  check(t, g, 4, 3)
  t.equal(g.directed, false)
  t.same(degrees(g), [1, 2, 2, 1])
  t.same(portsOf(g, 0), { next: '1.prev' })
  t.same(portsOf(g, 3), { prev: '2.next' })
  const p = expandTopology({ shape: 'line', size: '3', directed: 'true' })
  check(t, p, 3, 2)
  t.equal(p.directed, true)
  t.same(p.ranks[1]?.ports.map((x) => [x.port, x.direction]), [['next', 'out'], ['prev', 'in']])
  check(t, expandTopology({ shape: 'line', size: 1 }), 1, 0)
})

t.test('star', async (t) => {
  const g = expandTopology({ shape: 'star', size: 5 })
  check(t, g, 5, 4)
  t.same(degrees(g), [4, 1, 1, 1, 1])
  t.same(portsOf(g, 0), { spoke0: '1.hub', spoke1: '2.hub', spoke2: '3.hub', spoke3: '4.hub' })
  t.same(g.groups[0], { spokes: ['spoke0', 'spoke1', 'spoke2', 'spoke3'] })
  t.same(g.groups[1], {})
})

t.test('mesh 2-D and 3-D', async (t) => {
  const g = expandTopology({ shape: 'mesh', size: 9, dims: [3, 3] })
  check(t, g, 9, 12)
  t.same(degrees(g), [2, 3, 2, 3, 4, 3, 2, 3, 2])
  t.same(portsOf(g, 4), { east: '5.west', west: '3.east', south: '7.north', north: '1.south' })
  t.same(g.ranks[5]?.coords, [2, 1])
  const cube = expandTopology({ shape: 'mesh', dims: [2, 2, 2] })
  check(t, cube, 8, 12)
  t.same(degrees(cube), Array(8).fill(3))
  t.same(portsOf(cube, 0), { east: '1.west', south: '2.north', up: '4.down' })
  check(t, expandTopology({ shape: 'mesh', dims: [5] }), 5, 4)
  // a dimension of size 1 adds no ports
  t.same(degrees(expandTopology({ shape: 'mesh', dims: [3, 1] })), [1, 2, 1])
})

t.test('torus', async (t) => {
  const g = expandTopology({ shape: 'torus', size: 16, dims: [4, 4] })
  check(t, g, 16, 32)
  t.same(degrees(g), Array(16).fill(4))
  t.same(portsOf(g, 0), { east: '1.west', west: '3.east', south: '4.north', north: '12.south' })
  // 2x2: the wrap link joins the same neighbour on the other port pair
  const small = expandTopology({ shape: 'torus', size: 4, dims: [2, 2] })
  check(t, small, 4, 8)
  t.same(portsOf(small, 0), { east: '1.west', west: '1.east', south: '2.north', north: '2.south' })
  t.same(portsOf(small, 3), { east: '2.west', west: '2.east', south: '1.north', north: '1.south' })
  const t3 = expandTopology({ shape: 'torus', dims: [3, 3, 3] })
  check(t, t3, 27, 81)
  t.same(degrees(t3), Array(27).fill(6))
  t.same(degrees(expandTopology({ shape: 'torus', dims: [4, 1] })), [2, 2, 2, 2], 'size-1 dimension has no ports')
})

t.test('tree', async (t) => {
  const g = expandTopology({ shape: 'tree', size: 7 })
  check(t, g, 7, 6)
  t.same(degrees(g), [2, 3, 3, 1, 1, 1, 1])
  t.same(portsOf(g, 0), { child0: '1.parent', child1: '2.parent' })
  t.same(portsOf(g, 1), { parent: '0.child0', child0: '3.parent', child1: '4.parent' })
  t.same(portsOf(g, 2), { parent: '0.child1', child0: '5.parent', child1: '6.parent' })
  t.same(portsOf(g, 6), { parent: '2.child1' })
  t.same(g.groups[2], { children: ['child0', 'child1'] })
  t.same(g.groups[6], {})
  t.same(g.ranks.map((n) => n.coords?.[0]), [0, 1, 1, 2, 2, 2, 2], 'levels')
  const ternary = expandTopology({ shape: 'tree', size: 6, arity: 3 })
  check(t, ternary, 6, 5)
  t.same(portsOf(ternary, 1), { parent: '0.child0', child0: '4.parent', child1: '5.parent' })
})

t.test('hypercube', async (t) => {
  const g = expandTopology({ shape: 'hypercube', size: 8 })
  check(t, g, 8, 12)
  t.same(degrees(g), Array(8).fill(3))
  t.same(portsOf(g, 0), { dim0: '1.dim0', dim1: '2.dim1', dim2: '4.dim2' })
  t.same(portsOf(g, 5), { dim0: '4.dim0', dim1: '7.dim1', dim2: '1.dim2' })
  t.same(g.params, { dimension: 3 })
  check(t, expandTopology({ shape: 'hypercube', size: 64 }), 64, 192)
  check(t, expandTopology({ shape: 'hypercube', size: 1 }), 1, 0)
})

t.test('butterfly stage partners (DIF order)', async (t) => {
  const g = expandTopology({ shape: 'butterfly', size: 8 })
  check(t, g, 8, 12)
  t.same(g.params.stages, 3)
  const partners = (stage: number): number[] =>
    g.ranks.map((n) => n.ports.find((p) => p.port === `stage${stage}`)?.peerRank ?? -1)
  t.same(partners(0), [4, 5, 6, 7, 0, 1, 2, 3])
  t.same(partners(1), [2, 3, 0, 1, 6, 7, 4, 5])
  t.same(partners(2), [1, 0, 3, 2, 5, 4, 7, 6])
  t.ok(g.ranks.every((n) => n.ports.every((p) => p.peerPort === p.port)), 'stage s meets stage s')
  check(t, expandTopology({ shape: 'butterfly', size: 2 }), 2, 1)
})

t.test('complete', async (t) => {
  const g = expandTopology({ shape: 'complete', size: 5 })
  check(t, g, 5, 10)
  t.same(degrees(g), Array(5).fill(4))
  t.same(portsOf(g, 2), { to0: '0.to2', to1: '1.to2', to3: '3.to2', to4: '4.to2' })
  t.same(g.groups[2], { all: ['to0', 'to1', 'to3', 'to4'] })
})

t.test('graph', async (t) => {
  const g = expandTopology({
    shape: 'graph',
    directed: true,
    nodes: [{ name: 'src', ports: ['l', 'r'] }, { name: 'a' }, { name: 'b' }, { name: 'sink' }],
    edges: [
      { from: 'src.l', to: 'a.in' }, { from: 'src.r', to: 'b.in' },
      { from: 'a.out', to: 'sink.a' }, { from: 'b.out', to: 'sink.b' }
    ]
  })
  check(t, g, 4, 4)
  t.equal(g.directed, true)
  t.same(g.ranks.map((n) => n.label), ['src', 'a', 'b', 'sink'])
  t.same(g.ranks[0]?.ports, [
    { port: 'l', peerRank: 1, peerPort: 'in', direction: 'out' },
    { port: 'r', peerRank: 2, peerPort: 'in', direction: 'out' }
  ])
  t.same(g.ranks[3]?.ports.map((p) => p.direction), ['in', 'in'])
  // a self-loop between two different ports of one node is allowed
  const loop = expandTopology({ shape: 'graph', nodes: [{ name: 'x' }], edges: [{ from: 'x.out', to: 'x.in' }] })
  t.same(portsOf(loop, 0), { in: '0.out', out: '0.in' })
  t.same(asymmetries(loop), [])
})

t.test('already-parsed specs expand the same way', async (t) => {
  const { topologySpecSchema } = await import('@mvm/model')
  const parsed = topologySpecSchema.parse({ shape: 'torus', size: '16', dims: ['4', 4] })
  t.same(parsed, { shape: 'torus', size: 16, dims: [4, 4] })
  t.same(expandTopology(parsed), expandTopology({ shape: 'torus', size: 16, dims: [4, 4] }))
})
