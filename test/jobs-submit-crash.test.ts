// An acknowledged submission survives a SIGKILL of the broker mid-batch: with many SubmitJob
// and SubmitJobs calls in flight (state changes group-committed), the super-peer is killed;
// after its restart on the same data dir every job id it had answered is in the store.
import t from 'tap'
import { join } from 'node:path'
import { profileRequest } from '@mvm/cli'
import { ROOT, startLab, type TestLab } from './lib/lab.js'

let lab: TestLab
// no peers: every job stays queued (the policy lets a group accept jobs before peers join), so
// the store is all there is to check
t.before(async () => { lab = await startLab({ peers: 0, superArgs: ['--policy', join(ROOT, 'test', 'fixtures', 'policies', 'wait-for-capacity.yaml')] }) })
t.teardown(async () => { await lab?.stop() })

t.test('SIGKILL with submissions in flight: every acknowledged job id is still known', async (t) => {
  const { request } = await profileRequest(join(ROOT, 'profiles', 'primes.yaml'), { owner: 'crash' })
  const acked: string[] = []
  let failed = 0
  let killed = false
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; i < 5000 && !killed; i++) {
      try {
        if (w % 4 === 0) {
          const { submitted } = await lab.broker.SubmitJobs({ jobs: Array.from({ length: 8 }, () => request) }, { timeoutMs: 30_000 })
          for (const s of submitted) acked.push(s.jobId)
        } else {
          acked.push((await lab.broker.SubmitJob(request, { timeoutMs: 30_000 })).jobId)
        }
      } catch {
        // the kill cut this call: it was never acknowledged
        failed++
        return
      }
    }
  }
  const workers = Array.from({ length: 16 }, async (_, w) => { await worker(w) })
  for (let i = 0; i < 600 && acked.length < 300; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  t.ok(acked.length >= 300, `${acked.length} ids acknowledged before the kill`)
  const restart = lab.restartSuperPeer('SIGKILL')
  killed = true
  await restart
  await Promise.all(workers)
  // the workers never pause, so the kill lands mid-call; how many calls it cut varies with timing
  t.comment(`${failed} calls were cut by the kill`)

  const known = new Set((await lab.broker.ListJobs({ state: 'queued', limit: 10_000 })).jobs.map((j) => j.jobId))
  const missing = acked.filter((id) => !known.has(id))
  t.same(missing, [], `all ${acked.length} acknowledged jobs are queued after the restart`)
  const info = await lab.broker.GetJob({ jobId: acked[acked.length - 1]! })
  t.equal(info.owner, 'crash')
})
