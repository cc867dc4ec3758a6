// Queue backpressure through real nodes: a producer far faster than its consumer, on two
// peers of a real lab, moves ~188 MiB through the peers' queue streams; every node process
// (the two peers and the super-peer) stays within a memory bound far below what was sent.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROOT, startLab, submit, waitJob, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')
let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0)
  return kb / 1024
}

t.test('a producer 100× faster than its consumer keeps every node within bounded memory', async (t) => {
  const items = 3000
  const kb = 64
  // a small run first: loading the runtime and its compiler thread is not what is measured
  const warm = await submit(lab.broker, join(FIX, 'firehose.yaml'), { items: '4', kb: '1' })
  t.equal((await waitJob(lab.broker, warm.jobId, 120_000)).info.state, 'succeeded', 'warm-up run')
  const nodes = [lab.superPeer, ...lab.peers].map((n) => n.child.pid!)
  const base = await Promise.all(nodes.map(rssMiB))
  const peak = [...base]
  const timer = setInterval(() => {
    void Promise.all(nodes.map(async (pid, i) => { peak[i] = Math.max(peak[i]!, await rssMiB(pid).catch(() => 0)) }))
  }, 50)
  t.teardown(() => { clearInterval(timer) })
  const { jobId } = await submit(lab.broker, join(FIX, 'firehose.yaml'), { items: String(items), kb: String(kb) })
  const { info, result } = await waitJob(lab.broker, jobId, 240_000)
  clearInterval(timer)
  t.equal(info.state, 'succeeded', info.reason ?? '')
  t.same(JSON.parse(result.resultJson ?? 'null'), { received: items }, 'every item arrived, in order (the consumer checks)')
  t.equal(new Set(info.placement.map((p) => p.peerId)).size, 2, 'producer and consumer on different peers: the stream crossed the network')
  const sentMiB = items * kb / 1024
  const growth = peak.map((p, i) => p - base[i]!)
  t.comment(`sent ${sentMiB.toFixed(0)} MiB; node RSS growth (super, peers): ${growth.map((g) => g.toFixed(1)).join(', ')} MiB`)
  for (const [i, g] of growth.entries()) t.ok(g < sentMiB / 2, `node ${i} grew ${g.toFixed(1)} MiB, well below the ${sentMiB.toFixed(0)} MiB sent`)
})
