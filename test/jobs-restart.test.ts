// The broker survives a SIGKILL: with the peers full of long jobs and more queued, the
// super-peer is killed and restarted on the same data dir and port. The peers rejoin; every
// accepted job is still known; the queued ones run to success; the ones running at the kill
// are requeued (default policy) and finish, or fail with a reason — none is lost, and no rank
// process of the old life is left running.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createNodeClient } from '@mvm/soap'
import { ROOT, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'
import { primeCount } from './lib/oracles.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

/** Every pid the sleeper ranks of `tag` ever wrote (one file per rank and run, in per-run sandboxes). */
async function pidsOf (tag: string): Promise<number[]> {
  const out: number[] = []
  for (const e of await readdir(lab.dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile() || !e.name.startsWith(`${tag}-rank-`)) continue
    const pid = Number(await readFile(join(e.parentPath, e.name), 'utf8').catch(() => ''))
    if (pid > 0) out.push(pid)
  }
  return out
}

const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

t.test('SIGKILL the super-peer with jobs running and queued: nothing is lost', async (t) => {
  const tags = [randomUUID(), randomUUID()]
  const long = await Promise.all(tags.map(async (tag) => await submit(lab.broker, join(FIX, 'sleeper.yaml'), { processes: '2', ms: '20000', tag })))
  await waitFor(async () => {
    const s = await Promise.all(long.map(async (j) => (await lab.broker.GetJob({ jobId: j.jobId })).state))
    return s.every((x) => x === 'running')
  }, 60_000, 'both long jobs to run')
  const queued = await Promise.all([150_000, 250_000].map(async (n) => ({ n, ...await submit(lab.broker, join(ROOT, 'profiles', 'primes.yaml'), { n: String(n) }) })))
  for (const q of queued) t.equal((await lab.broker.GetJob({ jobId: q.jobId })).state, 'queued', 'queued behind the long jobs')
  const oldPids = (await Promise.all(tags.map(pidsOf))).flat()
  t.equal(oldPids.length, 4, 'four long ranks run')

  await lab.restartSuperPeer('SIGKILL')
  // the old runs' reports are worthless to the new broker (it requeued those jobs): their ranks must go long before they would end
  await waitFor(() => oldPids.every((p) => !alive(p)), 4000, 'the old life\'s rank processes to be stopped')
  await waitFor(async () => (await lab.broker.ListNodes({})).nodes.filter((n) => n.state === 'up' && n.roles.includes('peer')).length === 2, 60_000, 'the peers to rejoin')

  for (const j of [...long, ...queued]) t.ok(await lab.broker.GetJob({ jobId: j.jobId }), `job ${j.jobId} still known`)
  for (const q of queued) {
    const { info, result } = await waitJob(lab.broker, q.jobId, 120_000)
    t.equal(info.state, 'succeeded', `queued primes n=${q.n}: ${info.reason ?? ''}`)
    t.equal(JSON.parse(result.resultJson ?? 'null'), primeCount(q.n), 'and right')
  }
  for (const j of long) {
    const { info, result } = await waitJob(lab.broker, j.jobId, 120_000)
    if (info.state === 'succeeded') {
      t.equal(result.ranks.length, 2, 'a requeued job reports every rank of its new run')
      t.same(result.ranks.map((r) => r.exitCode), [0, 0])
      const pids = result.ranks.map((r) => (JSON.parse(r.resultJson ?? '{}') as { pid?: number }).pid)
      t.ok(pids.every((p) => p !== undefined && !oldPids.includes(p)), `results come from the new run, not the killed one (${pids.join(', ')})`)
    } else {
      t.equal(info.state, 'failed', 'a job running at the kill is requeued or failed, never lost')
      t.ok((info.reason ?? '') !== '', `with a reason: ${info.reason ?? ''}`)
    }
  }
  for (const p of lab.peers) t.same((await createNodeClient(p.ready.soapUrl).ListProcesses()).processes, [], `${p.name} runs nothing`)
})
