// The cache chain across groups: a file in the parent group's store, read by jobs of a child
// group, crosses the link between the groups once; the child's super-peer keeps it for its
// peers (a second-level cache), however many peers and jobs read it.
import '@mvm/core/polyfill'
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger } from '@mvm/core'
import { uploadFile } from '@mvm/data'
import { createMvmHost, type MvmHost, type MvmHostInit } from '@mvm/node'
import { createBrokerClient } from '@mvm/soap'
import { waitJob } from './lib/lab.js'
import { waitFor } from './lib/nodes.js'

const MiB = 1048576

t.test('a child group reads a parent-group file through its super-peer: the inter-group link carries it once', async (t) => {
  const dir = t.testdir()
  const host = async (name: string, init: Omit<MvmHostInit, 'dataDir'>): Promise<MvmHost> => {
    const h = createMvmHost({ dataDir: join(dir, name), soap: { port: 0 }, monitoring: { heartbeatMs: 200, missedHeartbeats: 10 }, logger: silentLogger(), ...init })
    t.teardown(async () => { await h.stop() })
    await h.start()
    return h
  }
  const root = await host('root', { roles: ['bootstrap', 'super-peer'], group: 'campus' })
  const child = await host('child', { roles: ['super-peer'], group: 'lab', parentGroup: 'campus', bootstrap: [root.node.soapUrl] })
  const peers = [await host('p1', { roles: ['peer'], group: 'lab', bootstrap: [root.node.soapUrl], capacity: { slots: 1 } }), await host('p2', { roles: ['peer'], group: 'lab', bootstrap: [root.node.soapUrl], capacity: { slots: 1 } })]
  await waitFor('the child joined the parent', () => child.node.parentLink()?.state === 'joined')
  for (const p of peers) await waitFor('a peer joined the child group', () => p.node.link()?.superPeerId === child.node.peerId)

  const bytes = randomBytes(6 * MiB)
  await writeFile(join(dir, 'set.bin'), bytes)
  const up = await uploadFile(root.node.soapUrl, join(dir, 'set.bin'), { name: 'set.bin', pin: 'user' })
  const data = (h: MvmHost): Record<string, number> => ({ ...h.node.monitor.report().data })
  const r0 = data(root)

  const broker = createBrokerClient(child.node.soapUrl)
  const profile = `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: chained }
spec:
  program:
    inline: |
      import { createHash } from 'node:crypto'
      import { readFile } from 'node:fs/promises'
      import { job } from '@mvm/job'
      export default job(async (ctx) => createHash('sha256').update(await readFile(ctx.files.path('set.bin'))).digest('hex'))
    language: ts
  topology: { shape: line, size: 2 }
  inputs: [{ id: ${up.id}, as: set.bin }]
  placement: { strategy: spread }
  resources: { memoryMB: 128, cpu: 0.5, wallTimeSec: 60 }
`
  const want = createHash('sha256').update(bytes).digest('hex')
  for (let run = 0; run < 2; run++) {
    const { jobId } = await broker.SubmitJob({ profileYaml: profile, params: [], bundle: [] })
    const { info, result } = await waitJob(broker, jobId)
    t.equal(info.state, 'succeeded', result.reason ?? '')
    t.same(result.ranks.map((r) => r.resultJson), [JSON.stringify(want), JSON.stringify(want)], `run ${run + 1}: both ranks read the parent's file byte for byte`)
  }
  const r1 = data(root)
  t.equal(r1.bytesOut! - r0.bytesOut!, 6 * MiB, 'the parent sent the file once for 2 peers and 2 jobs')
  t.equal(data(child).bytesIn, 6 * MiB, 'the child super-peer received it once')
  t.ok(data(child).bytesOut! >= 6 * MiB, 'and served its peers from its own store')
})
