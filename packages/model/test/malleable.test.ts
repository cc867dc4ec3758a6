// Malleable profiles (`processes: { min, max }`): what loads, and the clear errors (file, line,
// field) for what a resize could not honour.
import t from 'tap'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { ValidationError } from '@mvm/core'
import { loadProfile, resizedGraph } from '@mvm/model'

const line = 'apiVersion: mvm/v1\nkind: Topology\nmetadata: { name: line }\nparams: { size: 4 }\nspec:\n  shape: line\n  size: ${size}\n'

function profile (spec: string): string {
  return `apiVersion: mvm/v1\nkind: JobProfile\nmetadata: { name: job }\nspec:\n  program: { inline: "export default 1", language: js }\n${spec}`
}

async function issuesOf (p: Promise<unknown>): Promise<ValidationError> {
  const e = await p.then(() => undefined, (err: unknown) => err)
  if (!(e instanceof ValidationError)) throw new Error(`expected a ValidationError, got ${String(e)}`)
  return e
}

const coordinated = '  checkpoint: { intervalSec: 5, mode: coordinated }\n'

t.test('processes: { min, max } starts at min on a topology file sized by it; the bounds travel with the profile', async (t) => {
  const dir = t.testdir({ 'line.yaml': line })
  const f = path.join(dir, 'p.yaml')
  writeFileSync(f, profile(`  topology: line.yaml\n  processes: { min: 2, max: 5 }\n${coordinated}`))
  const p = await loadProfile(f)
  t.equal(p.spec.processes, 2, 'the job starts at min')
  t.equal(p.topology.graph.size, 2, 'the topology is expanded at min')
  t.same(p.malleable, { min: 2, max: 5, auto: true }, 'auto resizing is on by default')
  t.equal(resizedGraph(p.topology.spec, 5).size, 5, 'the same topology at max')
  writeFileSync(f, profile(`  topology: { shape: mesh, dims: [3] }\n  processes: { min: 3, max: 6, auto: false }\n${coordinated}`))
  const m = await loadProfile(f)
  t.same(m.malleable, { min: 3, max: 6, auto: false })
  t.same(resizedGraph(m.topology.spec, 6).params, { dims: [6] }, 'a 1-D mesh grows along its one dimension')
  writeFileSync(f, profile('  topology: line.yaml\n  processes: 3\n'))
  const plain = await loadProfile(f)
  t.equal(plain.spec.processes, 3, 'plain processes: N still works')
  t.equal(plain.malleable, undefined, 'and is not malleable')
})

t.test('what cannot be resized is refused naming the file, line and field', async (t) => {
  const dir = t.testdir({})
  const f = path.join(dir, 'p.yaml')
  writeFileSync(f, profile(`  topology: { shape: hypercube, size: 4 }\n  processes: { min: 4, max: 8 }\n${coordinated}`))
  const a = await issuesOf(loadProfile(f))
  t.match(a.issues, [{ file: f, line: 6, path: 'spec.topology', message: /exists at every size .*hypercube does not/ }])
  writeFileSync(f, profile('  topology: { shape: mesh, dims: [2, 2] }\n  processes: { min: 4, max: 8 }\n' + coordinated))
  t.match((await issuesOf(loadProfile(f))).issues, [{ line: 6, path: 'spec.topology', message: /2-D mesh does not/ }])
  writeFileSync(f, profile('  topology: { shape: ring, size: 2 }\n  processes: { min: 2, max: 4 }\n'))
  t.match((await issuesOf(loadProfile(f))).issues, [{ line: 7, path: 'spec.processes', message: /needs checkpoint: .*mode: coordinated/ }])
  writeFileSync(f, profile(`  topology: { shape: ring, size: 4 }\n  processes: { min: 4, max: 2 }\n${coordinated}`))
  t.match((await issuesOf(loadProfile(f))).issues, [{ line: 7, path: 'spec.processes.min', message: /must not be above max/ }])
  writeFileSync(f, profile(`  topology: { shape: ring, size: 2 }\n  processes: { min: 2, max: 4, extra: 1 }\n${coordinated}`))
  t.match((await issuesOf(loadProfile(f))).issues, [{ line: 7, path: /spec\.processes/ }], 'an unknown field in the bounds')
})
