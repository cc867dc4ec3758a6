// The loader on real files in temp dirs: parameters, profiles with program and topology
// attached, array expansion, node configs, and that every problem is reported at once.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { ValidationError } from '@mvm/core'
import { expandArray, loadFile, loadNodeConfig, loadProfile, loadText, loadTopologyFile } from '@mvm/model'

const ring = 'apiVersion: mvm/v1\nkind: Topology\nmetadata: { name: ring }\nparams: { size: 3 }\nspec:\n  shape: ring\n  size: ${size}\n'

function profile (spec: string, params = ''): string {
  return `apiVersion: mvm/v1\nkind: JobProfile\nmetadata: { name: job }\n${params}spec:\n${spec}`
}

async function issuesOf (p: Promise<unknown>): Promise<ValidationError> {
  const e = await p.then(() => undefined, (err: unknown) => err)
  if (!(e instanceof ValidationError)) throw new Error(`expected a ValidationError, got ${String(e)}`)
  return e
}

t.test('a scalar that is exactly ${x} takes the typed value; embedded ones are text', async (t) => {
  const doc = await loadText('apiVersion: mvm/v1\nkind: NodeConfig\nmetadata: { name: n }\nparams: { port: 7700, host: 127.0.0.1, g: lab }\nspec:\n  soap: { host: "${host}", port: "${port}" }\n  group: ${g}-east\n  labels: { literal: "$${not-a-param}" }\n', path.join(t.testdir({}), 'n.yaml'))
  if (doc.kind !== 'NodeConfig') throw new Error('kind')
  t.equal(doc.spec.soap.port, 7700)
  t.equal(doc.spec.group, 'lab-east')
  t.equal(doc.spec.labels.literal, '${not-a-param}', '$${ escapes')
  t.same(doc.params, { port: 7700, host: '127.0.0.1', g: 'lab' })
})

t.test('--param strings are coerced to the declared type or the default\'s type', async (t) => {
  const text = 'apiVersion: mvm/v1\nkind: NodeConfig\nmetadata: { name: n }\nparams:\n  port: { type: integer }\n  on: false\n  slots: 2\nspec:\n  soap: { port: "${port}" }\n  capacity: { slots: "${slots}" }\n  labels: { on: "x${on}" }\n'
  const file = path.join(t.testdir({}), 'n.yaml')
  const doc = await loadText(text, file, { params: { port: '8080', on: 'true', slots: '6' } })
  if (doc.kind !== 'NodeConfig') throw new Error('kind')
  t.equal(doc.spec.soap.port, 8080)
  t.equal(doc.spec.capacity.slots, 6)
  t.equal(doc.spec.labels.on, 'xtrue')
  const e = await issuesOf(loadText(text, file, { params: { port: '80.5', on: 'maybe', slots: '6' } }))
  t.match(e.issues, [
    { path: 'params.port', line: 5, message: "parameter 'port' = \"80.5\": expected an integer" },
    { path: 'params.on', line: 6, message: 'expected true or false' }
  ])
  const missing = await issuesOf(loadText(text, file, { params: { on: 'true' } }))
  t.match(missing.issues, [{ path: 'spec.soap.port', line: 9, message: "parameter 'port' has no default" }])
})

t.test('profile: program and topology file attached; processes passed as the topology size', async (t) => {
  const dir = t.testdir({ 'prog.ts': 'export default 42\n', 'ring.yaml': ring })
  const f = path.join(dir, 'p.yaml')
  writeFileSync(f, profile('  program: prog.ts\n  topology: ring.yaml\n  processes: ${procs}\n  params: { n: "${procs}" }\n', 'params: { procs: 5 }\n'))
  const p = await loadProfile(f)
  t.equal(p.program.source, 'export default 42\n')
  t.equal(p.program.language, 'ts')
  t.equal(p.program.path, path.join(dir, 'prog.ts'))
  t.equal(p.topology.file, path.join(dir, 'ring.yaml'))
  t.equal(p.topology.graph.size, 5)
  t.equal(p.spec.processes, 5)
  t.same(p.spec.params, { n: 5 })
  t.same(p.spec.queue, { type: 'fifo', capacity: 64, encoding: 'json' }, 'queue defaults')
  t.equal(p.spec.priority, 0)
  const p8 = await loadProfile(f, { params: { procs: '8' } })
  t.equal(p8.topology.graph.size, 8)
})

t.test('profile: { file, params } passes params; processes defaults to the topology size; inline program and topology', async (t) => {
  const dir = t.testdir({ 'ring.yaml': ring })
  const f = path.join(dir, 'p.yaml')
  writeFileSync(f, profile('  program: { inline: "export default 1", language: js }\n  topology: { file: ring.yaml, params: { size: 6 } }\n'))
  const p = await loadProfile(f)
  t.equal(p.spec.processes, 6)
  t.equal(p.program.path, undefined)
  t.equal(p.program.language, 'js')
  writeFileSync(f, profile('  program: { inline: "x", language: ts }\n  topology:\n    shape: star\n    size: 3\n'))
  const q = await loadProfile(f)
  t.equal(q.topology.file, undefined)
  t.equal(q.topology.graph.shape, 'star')
  t.equal(q.spec.processes, 3)
})

t.test('every problem is reported at once, sorted by line', async (t) => {
  const dir = t.testdir({})
  const f = path.join(dir, 'p.yaml')
  writeFileSync(f, profile('  program: missing.ts\n  topology: { shape: hypercube, size: 8 }\n  processes: 0\n  resources: { memoryMB: 1, cpu: -1, wallTimeSec: 5, extra: 1 }\n  queue: { capacity: 0 }\n'))
  const e = await issuesOf(loadProfile(f))
  t.same(e.issues.map((i) => [i.line, i.path]), [
    [7, 'spec.processes'], [8, 'spec.resources.cpu'], [8, 'spec.resources.extra'], [9, 'spec.queue.capacity']
  ])
  t.equal(e.code, 'E_VALIDATION')
  writeFileSync(f, profile('  program: missing.ts\n  topology: { shape: hypercube, size: 8 }\n  processes: 4\n'))
  const e2 = await issuesOf(loadProfile(f))
  t.same(e2.issues.map((i) => [i.line, i.path]), [[5, 'spec.program'], [7, 'spec.processes']], 'program and size problems together')
})

t.test('array jobs: values and matrix expand into one profile per value set', async (t) => {
  const dir = t.testdir({ 'prog.js': '1' })
  const f = path.join(dir, 'p.yaml')
  writeFileSync(f, profile('  program: prog.js\n  topology: { shape: ring, size: 2 }\n  params: { n: 1, keep: yes }\n  array:\n    matrix: { n: [10, 20], m: [a, b, c] }\n'))
  const kids = expandArray(await loadProfile(f))
  t.equal(kids.length, 6)
  t.same(kids.map((k) => k.spec.params), [
    { n: 10, keep: 'yes', m: 'a' }, { n: 10, keep: 'yes', m: 'b' }, { n: 10, keep: 'yes', m: 'c' },
    { n: 20, keep: 'yes', m: 'a' }, { n: 20, keep: 'yes', m: 'b' }, { n: 20, keep: 'yes', m: 'c' }
  ])
  t.same(kids.map((k) => k.metadata.name), ['job-0', 'job-1', 'job-2', 'job-3', 'job-4', 'job-5'])
  t.ok(kids.every((k) => k.spec.array === undefined))
  writeFileSync(f, profile('  program: prog.js\n  topology: { shape: ring, size: 2 }\n  array:\n    values: [{ n: 1 }, { n: 2 }]\n'))
  t.same(expandArray(await loadProfile(f)).map((k) => k.spec.params), [{ n: 1 }, { n: 2 }])
  writeFileSync(f, profile('  program: prog.js\n  topology: { shape: ring, size: 2 }\n'))
  t.equal(expandArray(await loadProfile(f)).length, 1)
})

t.test('node config: defaults, and paths resolved against the config file', async (t) => {
  const dir = t.testdir({ 'node.yaml': 'apiVersion: mvm/v1\nkind: NodeConfig\nmetadata: { name: n1 }\nspec:\n  roles: [bootstrap, super-peer]\n  bootstrap: [http://127.0.0.1:7700/soap, /ip4/127.0.0.1/tcp/4001]\n  dataDir: data\n  policy: ../policies/node.yaml\n' })
  const c = await loadNodeConfig(path.join(dir, 'node.yaml'))
  t.same(c.spec.roles, ['bootstrap', 'super-peer'])
  t.same(c.spec.listen, ['/ip4/127.0.0.1/tcp/0'])
  t.equal(c.spec.dataDir, path.join(dir, 'data'))
  t.equal(c.spec.policy, path.resolve(dir, '../policies/node.yaml'))
  t.same(c.spec.log, { level: 'info', format: 'pretty' })
})

t.test('loadTopologyFile gives the document and the graph; loaders check the kind', async (t) => {
  const dir = t.testdir({ 'ring.yaml': ring })
  const { doc, graph } = await loadTopologyFile(path.join(dir, 'ring.yaml'), { params: { size: '4' } })
  t.equal(doc.kind, 'Topology')
  t.equal(graph.size, 4)
  const e = await issuesOf(loadProfile(path.join(dir, 'ring.yaml')))
  t.match(e.issues[0], { message: 'expected a JobProfile file, got kind Topology' })
  const nf = await loadFile(path.join(dir, 'nope.yaml')).catch((err: unknown) => err)
  t.match(nf, { code: 'E_NOT_FOUND' })
})

t.test('an aborted signal stops loading', async (t) => {
  const dir = t.testdir({ 'ring.yaml': ring })
  const ac = new AbortController()
  ac.abort()
  const err = await loadFile(path.join(dir, 'ring.yaml'), { signal: ac.signal }).catch((e: unknown) => e)
  t.match(err, { code: 'E_ABORTED' })
})

t.test('the sample profiles load with their topologies', async (t) => {
  for (const [name, shape] of [['primes', 'star'], ['heat', 'line'], ['fft', 'butterfly'], ['pipeline', 'line'], ['ring', 'ring']] as const) {
    const p = await loadProfile(path.join('profiles', `${name}.yaml`))
    t.equal(p.spec.processes, 4, `${name}: 4 processes`)
    t.equal(p.topology.graph.shape, shape, `${name}: ${shape}`)
    t.ok(p.program.source.length > 0)
  }
  t.equal((await loadProfile('profiles/pipeline.yaml')).topology.graph.directed, true)
  t.equal((await loadProfile('profiles/heat.yaml')).topology.graph.directed, false)
  t.equal(expandArray(await loadProfile('profiles/primes-sweep.yaml')).length, 6)
})
