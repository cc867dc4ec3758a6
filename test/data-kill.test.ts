// A peer SIGKILLed while it fetches a job's input: the job is requeued (default fault
// tolerance) and finishes on the other peers, each rank reading the input byte for byte.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli, startLab, waitJob, type TestLab } from './lib/lab.js'

const MiB = 1048576
let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 3, slots: 1 }) })
t.teardown(async () => { await lab?.stop() })

/** Chunk files in a peer's store (its layout: data/store/chunks/<2 hex>/<sha256>). */
async function chunksOf (peer: number): Promise<number> {
  try {
    return (await readdir(join(lab.dir, `peer${peer}`, 'data', 'store', 'chunks'), { recursive: true })).filter((n) => n.length > 64).length
  } catch { return 0 }
}

t.test('a peer killed mid-transfer: the job still finishes, byte for byte', async (t) => {
  const dir = t.testdir()
  const bytes = randomBytes(64 * MiB)
  await writeFile(join(dir, 'big.bin'), bytes)
  await writeFile(join(dir, 'prog.ts'), `import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { job } from '@mvm/job'
export default job(async (ctx) => createHash('sha256').update(await readFile(ctx.files.path('big.bin'))).digest('hex'))
`)
  await writeFile(join(dir, 'job.yaml'), `apiVersion: mvm/v1
kind: JobProfile
metadata: { name: survive }
spec:
  program: prog.ts
  topology: { shape: line, size: 2 }
  inputs: [big.bin]
  placement: { strategy: spread }
  resources: { memoryMB: 256, cpu: 0.5, wallTimeSec: 120 }
`)
  const r = await runCli(['submit', join(dir, 'job.yaml'), '--json', '--broker', lab.bootstrap])
  t.equal(r.code, 0, r.stderr)
  const jobId = (JSON.parse(r.stdout) as { jobId?: string, job?: { jobId: string } }).job?.jobId ?? (JSON.parse(r.stdout) as { jobId: string }).jobId
  // the first peer seen with some but not all of the 64 chunks is killed
  let killed: number | undefined
  const deadline = Date.now() + 30_000
  while (killed === undefined && Date.now() < deadline) {
    for (let i = 1; i <= 3 && killed === undefined; i++) {
      const n = await chunksOf(i)
      if (n > 0 && n < 64) { killed = i; lab.peers[i - 1]!.child.kill('SIGKILL') }
    }
    if (killed === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  t.ok(killed !== undefined, `peer${String(killed)} was killed with part of the input in its store`)
  const { info, result } = await waitJob(lab.broker, jobId, 90_000)
  t.equal(info.state, 'succeeded', result.reason ?? '')
  const want = JSON.stringify(createHash('sha256').update(bytes).digest('hex'))
  t.same(result.ranks.map((x) => x.resultJson), [want, want], 'both ranks read the input byte for byte')
  const dead = lab.peers[killed! - 1]!.ready.peerId
  t.notOk(result.ranks.some((x) => x.peerId === dead), 'no rank ran on the killed peer')
})
