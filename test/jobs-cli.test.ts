// The real `mvm` CLI against a real lab (2 peers × 2 slots): submit --wait, jobs, status,
// result, cancel, and --json output that parses.
import t from 'tap'
import { join } from 'node:path'
import { runCli, startLab, waitFor, type TestLab } from './lib/lab.js'
import { primeCount } from './lib/oracles.js'

let lab: TestLab
let url: string
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }); url = lab.bootstrap })
t.teardown(async () => { await lab?.stop() })

t.test('mvm submit profiles/primes.yaml --wait prints 664579 and exits 0', async (t) => {
  const r = await runCli(['submit', 'profiles/primes.yaml', '--wait', '--broker', url])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /\b664579\b/)
  t.match(r.stderr, /submitted j-/, 'the job id goes to stderr with --wait')
})

t.test('submit --json, then status, result and jobs (text and --json)', async (t) => {
  const sub = await runCli(['submit', 'profiles/primes.yaml', '-p', 'n=300000', '--json', '--broker', url])
  t.equal(sub.code, 0, sub.stderr)
  const { jobId } = JSON.parse(sub.stdout) as { jobId: string, childJobIds: string[] }
  t.match(jobId, /^j-/)

  const waited = await runCli(['result', jobId, '--wait', '--json', '--broker', url])
  t.equal(waited.code, 0, waited.stderr)
  t.match(waited.stdout, String(primeCount(300_000)))

  const res = await runCli(['result', jobId, '--broker', url])
  t.equal(res.code, 0, res.stderr)
  t.equal(res.stdout.trim(), String(primeCount(300_000)), 'mvm result prints the value')
  const resJson = JSON.parse((await runCli(['result', jobId, '--json', '--broker', url])).stdout) as { state: string, resultJson: string, ranks: unknown[] }
  t.equal(resJson.state, 'succeeded')
  t.equal(JSON.parse(resJson.resultJson), primeCount(300_000))
  t.equal(resJson.ranks.length, 4)

  const st = await runCli(['status', jobId, '--broker', url])
  t.equal(st.code, 0, st.stderr)
  t.match(st.stdout, new RegExp(`job\\s+${jobId}`))
  t.match(st.stdout, /state\s+succeeded/)
  t.match(st.stdout, /ranks 4 \(4 started, 4 finished\)/)
  const stJson = JSON.parse((await runCli(['status', jobId, '--json', '--broker', url])).stdout) as { jobId: string, state: string, placement: Array<{ peerId: string }> }
  t.equal(stJson.jobId, jobId)
  t.equal(stJson.state, 'succeeded')
  t.equal(new Set(stJson.placement.map((p) => p.peerId)).size, 2, 'placed on both peers')

  const jobs = await runCli(['jobs', '--broker', url])
  t.equal(jobs.code, 0, jobs.stderr)
  t.match(jobs.stdout, /^JOB\s+NAME\s+STATE/)
  t.match(jobs.stdout, new RegExp(`${jobId}\\s+primes\\s+succeeded`))
  const list = JSON.parse((await runCli(['jobs', '--json', '--state', 'succeeded', '--broker', url])).stdout) as Array<{ jobId: string, state: string }>
  t.ok(list.some((j) => j.jobId === jobId), 'the job is listed')
  t.ok(list.every((j) => j.state === 'succeeded'), '--state filters')
})

t.test('mvm cancel stops a running job; result then says it has none', async (t) => {
  const sub = await runCli(['submit', join('test', 'fixtures', 'jobs', 'sleeper.yaml'), '--json', '--broker', url])
  t.equal(sub.code, 0, sub.stderr)
  const { jobId } = JSON.parse(sub.stdout) as { jobId: string }
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await waitFor(async () => (await lab.broker.GetJob({ jobId })).state === 'running', 60_000, 'the sleeper to run')
  const c = await runCli(['cancel', jobId, '--broker', url])
  t.equal(c.code, 0, c.stderr)
  t.equal(c.stdout.trim(), `${jobId} cancelled`)
  t.equal((await lab.broker.GetJob({ jobId })).state, 'cancelled')
  const r = await runCli(['result', jobId, '--broker', url])
  t.not(r.code, 0, 'no result for a cancelled job')
  t.match(r.stderr, /cancelled/)
})

t.test('errors: unknown job and unreachable broker are clear and non-zero', async (t) => {
  const r = await runCli(['status', 'j-nope', '--broker', url])
  t.not(r.code, 0)
  t.match(r.stderr, /E_NOT_FOUND|not found/i)
  const dead = await runCli(['jobs', '--broker', 'http://127.0.0.1:9'], 60_000)
  t.not(dead.code, 0)
  t.match(dead.stderr, /E_UNAVAILABLE|ECONNREFUSED|unreachable|refused/i)
})
