// Runs the real `mvm topology show` (build first: npx tsc -b packages/cli) on the sample topologies.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expandTopology, loadTopologyFile, renderText } from '@mvm/model'

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')
const bin = join(root, 'packages/cli/bin/mvm.js')
const samples = join(root, 'topologies')

interface Run { code: number, stdout: string, stderr: string }

function mvm (...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

t.test('prints the expanded graph of a few representative samples', async (t) => {
  // processes are slow on a shared machine: run the CLI on a few representative samples
  for (const f of ['ring.yaml', 'mesh-2d.yaml', 'graph-diamond.yaml']) {
    const { graph } = await loadTopologyFile(join(samples, f))
    const r = await mvm('topology', 'show', join('topologies', f))
    t.equal(r.code, 0, `${f}: exit 0 (${r.stderr})`)
    t.equal(r.stdout, renderText(graph), `${f}: prints the expanded graph`)
  }
})

t.test('--param changes the size', async (t) => {
  const r = await mvm('topology', 'show', 'topologies/ring.yaml', '--param', 'size=6', '--format', 'json')
  t.equal(r.code, 0, r.stderr)
  const g = JSON.parse(r.stdout) as { size: number, ranks: unknown[] }
  t.equal(g.size, 6)
  t.same(g, expandTopology({ shape: 'ring', size: 6 }))
})

t.test('--format dot and svg, -o writes a file', async (t) => {
  const dir = t.testdir()
  const out = join(dir, 'fft.svg')
  const r = await mvm('topology', 'show', 'topologies/butterfly-fft8.yaml', '--format', 'svg', '-o', out)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout, '')
  const svg = await readFile(out, 'utf8')
  t.match(svg, /^<svg /)
  t.equal(svg.match(/class="column"/g)?.length, 4)
  const dot = await mvm('topology', 'show', 'topologies/torus-4x4.yaml', '--format', 'dot')
  t.equal(dot.code, 0, dot.stderr)
  t.equal(dot.stdout.match(/ -- /g)?.length, 32)
})

t.test('errors name the file, line and field', async (t) => {
  const bad = await mvm('topology', 'show', 'topologies/hypercube.yaml', '--param', 'size=12')
  t.equal(bad.code, 1)
  t.match(bad.stderr, /topologies\/hypercube\.yaml:\d+:\d+: spec\.size: hypercube needs a power-of-two size, got 12/)

  const dir = t.testdir()
  const file = join(dir, 'dangling.yaml')
  await writeFile(file, [
    'apiVersion: mvm/v1', 'kind: Topology', 'metadata: { name: dangling }', 'spec:', '  shape: graph',
    '  nodes: [{ name: a }, { name: b }]', '  edges:', '    - { from: a.out, to: b.in }', '    - { from: a.x, to: zz.in }', ''
  ].join('\n'))
  const r = await mvm('topology', 'show', file)
  t.equal(r.code, 1)
  t.match(r.stderr, /dangling\.yaml:9:\d+: spec\.edges\.1\.to: edge 1: node 'zz' does not exist/)

  const fmt = await mvm('topology', 'show', 'topologies/ring.yaml', '--format', 'png')
  t.equal(fmt.code, 1)
  t.match(fmt.stderr, /E_BAD_REQUEST: --format must be one of text, json, dot, svg/)
  const missing = await mvm('topology', 'show', join(dir, 'nope.yaml'))
  t.equal(missing.code, 1)
  t.match(missing.stderr, /nope\.yaml/)
})
