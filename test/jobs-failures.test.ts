// Jobs that end badly, on a real lab of 2 peers × 2 slots: cancel, a throwing rank, a sandbox
// escape, a memory hog, and a bad profile. Every case checks the reason the user would see and
// that no rank process is left behind (OS pids, and Node.ListProcesses on each peer).
import t, { type Test } from 'tap'
import { readdir, readFile } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { createNodeClient } from '@mvm/soap'
import { readBundle } from '@mvm/soap'
import { ROOT, runCli, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

/** Rank pids the fixture programs wrote (`<tag>-rank-<r>.pid`) in their sandbox directories. */
async function rankPids (tag: string): Promise<Map<number, number>> {
  const out = new Map<number, number>()
  const entries = await readdir(lab.dir, { recursive: true, withFileTypes: true })
  for (const e of entries) {
    const m = /^(.+)-rank-(\d+)\.pid$/.exec(e.name)
    if (m === null || m[1] !== tag || !e.isFile()) continue
    const path = join(e.parentPath, e.name)
    const pid = Number(await readFile(path, 'utf8').catch(() => ''))
    if (pid > 0) out.set(Number(m[2]), pid)
  }
  return out
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** A failed assertion must not leave a job holding the lab's slots for the next subtest. */
function cancelAtEnd (t: Test, jobId: string): void {
  t.teardown(async () => {
    const j = await lab.broker.GetJob({ jobId }).catch(() => undefined)
    if (j !== undefined && !['succeeded', 'failed', 'cancelled'].includes(j.state)) await lab.broker.CancelJob({ jobId }).catch(() => {})
  })
}

async function listed (jobId: string): Promise<number> {
  let n = 0
  for (const p of lab.peers) n += (await createNodeClient(p.ready.soapUrl).ListProcesses()).processes.filter((x) => x.jobId === jobId).length
  return n
}

t.test('cancel of a running job: cancelled, and every rank process gone within a second', async (t) => {
  const tag = randomUUID()
  const { jobId } = await submit(lab.broker, join(FIX, 'sleeper.yaml'), { processes: '4', tag })
  cancelAtEnd(t, jobId)
  let pids = new Map<number, number>()
  await waitFor(async () => (pids = await rankPids(tag)).size === 4, 60_000, 'four ranks to write their pids')
  t.ok([...pids.values()].every(alive), 'the rank processes run')
  t.equal((await lab.broker.GetJob({ jobId })).state, 'running')
  t.equal(await listed(jobId), 4, 'the peers list the four ranks')
  const rows = (await Promise.all(lab.peers.map(async (p) => (await createNodeClient(p.ready.soapUrl).ListProcesses()).processes))).flat()
  const shown = rows.filter((x) => x.jobId === jobId).map((x) => x.pid).sort((a, b) => a - b)
  t.same(shown, [...pids.values()].sort((a, b) => a - b), 'ListProcesses shows the ranks\' real OS pids')
  const info = await lab.broker.CancelJob({ jobId })
  t.equal(info.state, 'cancelled')
  await waitFor(() => [...pids.values()].every((p) => !alive(p)), 1000, 'rank processes to exit after cancel')
  t.equal(await listed(jobId), 0, 'no process listed for the job on any peer')
  const { info: end } = await waitJob(lab.broker, jobId, 5000)
  t.equal(end.state, 'cancelled')
  t.match(end.reason, /cancel/)
})

t.test('a rank that throws: job failed with its error, the other ranks stopped promptly', async (t) => {
  const tag = randomUUID()
  const { jobId } = await submit(lab.broker, join(FIX, 'thrower.yaml'), { tag })
  cancelAtEnd(t, jobId)
  let pids = new Map<number, number>()
  await waitFor(async () => {
    pids = await rankPids(tag)
    return pids.size === 4 || (await lab.broker.GetJob({ jobId })).state === 'failed'
  }, 60_000, 'ranks to start')
  const { info, result } = await waitJob(lab.broker, jobId, 60_000)
  t.equal(info.state, 'failed')
  t.match(info.reason, /boom from rank 1/, 'the reason carries the rank\'s error')
  t.match(result.reason, /boom from rank 1/)
  await waitFor(async () => [...pids.values()].every((p) => !alive(p)) && await listed(jobId) === 0, 3000, 'the other ranks to be stopped')
  t.ok(pids.size >= 1, `saw ${pids.size} rank pids, all gone`)
})

t.test('a rank that reads /etc/passwd: failed with ERR_ACCESS_DENIED', async (t) => {
  const { jobId } = await submit(lab.broker, join(FIX, 'passwd.yaml'))
  cancelAtEnd(t, jobId)
  const { info, result } = await waitJob(lab.broker, jobId, 60_000)
  t.equal(info.state, 'failed')
  t.match(info.reason, /ERR_ACCESS_DENIED/, 'the reason names the denial')
  t.match(info.reason, /\/etc\/passwd/, 'and the file')
  t.notMatch(result.resultJson ?? '', /root:/, 'nothing of the file came back')
  t.equal(await listed(jobId), 0)
})

t.test('a rank over its memory limit: failed, the reason says memory', async (t) => {
  const { jobId } = await submit(lab.broker, join(FIX, 'hog.yaml'))
  cancelAtEnd(t, jobId)
  const { info } = await waitJob(lab.broker, jobId, 90_000)
  t.equal(info.state, 'failed')
  t.match(info.reason, /memory/i, `reason: ${info.reason ?? ''}`)
  t.equal(await listed(jobId), 0)
})

t.test('a bad profile: SubmitJob answers E_VALIDATION with file:line:col; mvm submit prints it and exits non-zero', async (t) => {
  const file = join(FIX, 'bad-profile.yaml')
  const { files } = await readBundle([file, join(FIX, 'sleeper.ts'), join(ROOT, 'topologies', 'ring.yaml')])
  const before = (await lab.broker.ListJobs({})).jobs.length
  const err = await lab.broker.SubmitJob({
    profileYaml: await readFile(file, 'utf8'), profileName: 'test/fixtures/jobs/bad-profile.yaml', params: [], bundle: files, owner: 'test'
  }).then(() => undefined, (e: unknown) => e as { code?: string, message: string })
  t.ok(err, 'SubmitJob rejected the profile')
  t.equal(err?.code, 'E_VALIDATION')
  t.match(err?.message, /bad-profile\.yaml:8:\d+/, 'names the file, line and column')
  t.match(err?.message, /processes/, 'names the field')
  t.notMatch(err?.message, /mvm-submit-/, 'no broker temp path leaks')
  t.equal((await lab.broker.ListJobs({})).jobs.length, before, 'no job was stored')

  const cli = await runCli(['submit', file, '--broker', lab.bootstrap], 30_000)
  t.not(cli.code, 0, 'mvm submit exits non-zero')
  t.match(cli.stderr, /bad-profile\.yaml:8:\d+/, `stderr names file:line:col: ${cli.stderr}`)
})
