import t from 'tap'
import type { Test } from 'tap'
import { TopologyError, expandTopology } from '@mvm/model'

/** Expands `spec` expecting a TopologyError at `path` whose message matches `message`. */
function fails (t: Test, spec: unknown, path: Array<string | number>, message: RegExp | string): void {
  try {
    expandTopology(spec)
    t.fail(`expected an error for ${JSON.stringify(spec)}`)
  } catch (err) {
    t.type(err, TopologyError)
    const e = err as TopologyError
    t.same(e.path, path, `path of "${e.message}"`)
    t.match(e.message, message)
    t.equal(e.code, 'E_VALIDATION')
  }
}

t.test('size rules of the shapes', async (t) => {
  fails(t, { shape: 'butterfly', size: 6 }, ['size'], 'butterfly needs a power-of-two size of at least 2, got 6')
  fails(t, { shape: 'butterfly', size: 1 }, ['size'], /got 1/)
  fails(t, { shape: 'hypercube', size: 12 }, ['size'], 'hypercube needs a power-of-two size, got 12')
  fails(t, { shape: 'mesh', size: 8, dims: [3, 3] }, ['dims'], 'mesh dims [3,3] multiply to 9 but size is 8')
  fails(t, { shape: 'torus', size: 8, dims: [2, 2, 2, 1] }, ['dims'], /1 to 3/)
  fails(t, { shape: 'torus', dims: [] }, ['dims'], /1 to 3/)
  fails(t, { shape: 'mesh', dims: [2, 0] }, ['dims', 1], /at least 1/)
  fails(t, { shape: 'ring', size: 1 }, ['size'], 'a ring needs at least 2 ranks')
  fails(t, { shape: 'ring', size: 0 }, ['size'], /at least/)
  fails(t, { shape: 'ring', size: 100000 }, ['size'], /at most 4096/)
  fails(t, { shape: 'complete', size: 1000 }, ['size'], /limited to 256/)
  fails(t, { shape: 'line', size: 2.5 }, ['size'], /whole number/)
  fails(t, { shape: 'line', size: 'four' }, ['size'], 'expected a whole number, got "four"')
  fails(t, { shape: 'tree', size: 7, arity: 0 }, ['arity'], /arity must be at least 1/)
})

t.test('schema errors name the field', async (t) => {
  fails(t, { shape: 'ring', size: 4, dims: [4] }, ['dims'], /unknown field 'dims'.*ring takes shape, size/)
  fails(t, { shape: 'blob', size: 4 }, ['shape'], /ring.*graph/)
  fails(t, { size: 4 }, ['shape'], /./)
  fails(t, { shape: 'ring' }, ['size'], /./)
  fails(t, { shape: 'line', size: 4, directed: 'yes' }, ['directed'], 'expected true or false, got "yes"')
})

t.test('graph errors', async (t) => {
  const nodes = [{ name: 'a' }, { name: 'b' }]
  fails(t, { shape: 'graph', nodes, edges: [{ from: 'a.o', to: 'b.i' }, { from: 'a.p', to: 'b.j' }, { from: 'x.o', to: 'b.k' }] },
    ['edges', 2, 'from'], "edge 2: node 'x' does not exist")
  fails(t, { shape: 'graph', nodes, edges: [{ from: 'a.o', to: 'y.i' }] }, ['edges', 0, 'to'], "edge 0: node 'y' does not exist")
  fails(t, { shape: 'graph', nodes, edges: [{ from: 'a.o', to: 'b.i' }, { from: 'a.o', to: 'b.j' }] },
    ['edges', 1, 'from'], "edge 1: port 'o' of node 'a' is already used by another edge")
  fails(t, { shape: 'graph', nodes, edges: [{ from: 'a.o', to: 'a.o' }] }, ['edges', 0, 'to'], /cannot link a port to itself/)
  fails(t, { shape: 'graph', nodes, edges: [{ from: 'a', to: 'b.i' }] }, ['edges', 0, 'from'], /should be node.port/)
  fails(t, { shape: 'graph', nodes, edges: [{ from: 'a.', to: 'b.i' }] }, ['edges', 0, 'from'], /should be node.port/)
  fails(t, { shape: 'graph', nodes, edges: [{ from: 'a.o o', to: 'b.i' }] }, ['edges', 0, 'from'], /not a valid port name/)
  fails(t, { shape: 'graph', nodes: [{ name: 'a' }, { name: 'a' }] }, ['nodes', 1, 'name'], "node 'a' is defined twice")
  fails(t, { shape: 'graph', nodes: [{ name: 'a', ports: ['o'] }, { name: 'b' }], edges: [{ from: 'a.p', to: 'b.i' }] },
    ['edges', 0, 'from'], "node 'a' has no port 'p' (it declares o)")
  fails(t, { shape: 'graph', nodes: [{ name: 'a', ports: ['o', 'q'] }, { name: 'b' }], edges: [{ from: 'a.o', to: 'b.i' }] },
    ['nodes', 0, 'ports', 1], "node 'a' declares port 'q' but no edge uses it")
  fails(t, { shape: 'graph', size: 3, nodes }, ['size'], 'graph size is 3 but it has 2 nodes')
  fails(t, { shape: 'graph', nodes: [] }, ['nodes'], /at least one node/)
  fails(t, { shape: 'graph', nodes: [{ name: '1x' }] }, ['nodes', 0, 'name'], /expected a name/)
})
