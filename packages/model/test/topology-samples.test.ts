import t from 'tap'
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadTopologyFile } from '@mvm/model'

// The sample topologies as the model loads them; `mvm topology show` on them is tested in
// test/topology-cli.test.ts (the CLI is another package).
const samples = join(resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..'), 'topologies')

t.test('every sample loads and expands', async (t) => {
  const files = (await readdir(samples)).filter((f) => f.endsWith('.yaml'))
  t.ok(files.length >= 12, 'all samples present')
  for (const f of files) {
    const { doc, graph } = await loadTopologyFile(join(samples, f))
    t.ok('size' in doc.params, `${f} declares a size parameter`)
    t.equal(graph.size, Number(doc.params.size), `${f}: size parameter is the rank count`)
  }
})

t.test('small defaults for the shapes profiles start with', async (t) => {
  for (const f of ['ring', 'line', 'pipeline', 'star']) {
    const { graph } = await loadTopologyFile(join(samples, `${f}.yaml`))
    t.equal(graph.size, 4, `${f} has 4 ranks by default`)
  }
  const { graph } = await loadTopologyFile(join(samples, 'pipeline.yaml'))
  t.equal(graph.directed, true)
  const fft = await loadTopologyFile(join(samples, 'butterfly-fft8.yaml'))
  t.equal(fft.graph.size, 8)
})
