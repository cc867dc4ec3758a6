// Issue 17: ranks cannot hurt their node, and a rank killed from outside is a lost slot.
// A real lab (1 super-peer, 1 peer) per sandbox driver: rank 0 of a job tries kill(ppid),
// kill(0), kill(-1), and the raw syscall around the rank host's guard; the peer survives every
// one, the job fails saying why, and a normal job runs on the same peer afterwards. Then a
// rank of a running job gets `kill -9` from outside: the job is requeued with that reason and
// succeeds on its next run.
import t, { type Test } from 'tap'
import { randomUUID } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import Database from 'better-sqlite3'
import { join } from 'node:path'
import { namespaceDriver } from '@mvm/sandbox'
import { createNodeClient } from '@mvm/soap'
import { ROOT, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'
import { primeCount } from './lib/oracles.js'

const FIX = join(ROOT, 'test', 'fixtures', 'jobs')
const root = process.getuid?.() === 0

async function pgidOf (pid: number): Promise<number> {
  return Number((await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ')[2])
}

/** The broker's own record of a job's state changes (its SQLite store, opened read-only). */
async function eventsOf (lab: TestLab, jobId: string): Promise<Array<{ to_state: string, detail: string | null }>> {
  const dir = join(lab.dir, 'super')
  const rel = (await readdir(dir, { recursive: true })).find((f) => f.endsWith('broker.db'))
  if (rel === undefined) throw new Error(`no broker.db under ${dir}`)
  const db = new Database(join(dir, rel), { readonly: true, fileMustExist: true })
  try {
    return db.prepare('SELECT to_state, detail FROM job_events WHERE job_id = ? ORDER BY id').all(jobId) as Array<{ to_state: string, detail: string | null }>
  } finally { db.close() }
}

async function withLab (t: Test, driver: 'process' | 'namespace'): Promise<TestLab> {
  const lab = await startLab({ peers: 1, slots: 2, ...(driver === 'namespace' ? { peerArgs: ['--policy', join(ROOT, 'test', 'fixtures', 'driver', 'namespace-node.yaml')] } : {}) })
  t.teardown(async () => { await lab.stop() })
  return lab
}

async function peerAlive (t: Test, lab: TestLab, what: string): Promise<void> {
  const peer = lab.peers[0]!
  t.equal(peer.child.exitCode, null, `the peer process is still running after ${what}`)
  t.equal(peer.child.signalCode, null, 'and was not signalled')
  const status = await createNodeClient(peer.ready.soapUrl).GetStatus({})
  t.ok(status !== undefined, 'and still answers SOAP')
}

for (const driver of ['process', 'namespace'] as const) {
  t.test(`${driver} driver`, async (t) => {
    if (driver === 'namespace') {
      const a = await namespaceDriver().available()
      if (!a.ok) { t.pass(`skipped: namespace driver not available here: ${a.reason ?? ''}`); return }
    }
    const lab = await withLab(t, driver)
    const peer = lab.peers[0]!
    const nodePid = peer.child.pid!
    const nodePgid = await pgidOf(nodePid)

    t.test('a rank signalling its node fails its job; the node keeps serving', async (t) => {
      const cases: Array<{ how: string, reason: RegExp }> = [
        // a namespace's pid 1 has ppid 0, so there kill(ppid) is kill(0): the rank's own group
        { how: 'ppid', reason: driver === 'process' ? /rank 0 on \S+ \(\S+\) failed: .*kill EPERM: a rank may signal only itself/ : /rank 0 on \S+ \(\S+\) failed: .*rank 0: killed itself with process\.kill\(0, SIGKILL\)/ },
        { how: 'all', reason: /rank 0 on \S+ \(\S+\) failed: .*kill EPERM: a rank may signal only itself \(process\.kill\(-1, SIGKILL\)\)/ },
        // its own group: the rank itself dies, and that is its own doing, not a lost slot
        { how: 'group', reason: /rank 0 on \S+ \(\S+\) failed: .*rank 0: killed itself with process\.kill\(0, SIGKILL\)/ }
      ]
      // around the guard, only the OS stands between the rank and the node: it must say no
      if (root) cases.push({ how: 'bypass', reason: /raw kill of the node returned -\d+, -\d+/ })
      else t.comment('not root: ranks keep the node\'s uid, so the raw-syscall case is not run')
      for (const c of cases) {
        const { jobId } = await submit(lab.broker, join(FIX, 'hostile.yaml'), { how: c.how, nodePid: String(nodePid), nodePgid: String(nodePgid) })
        const { info } = await waitJob(lab.broker, jobId, 60_000)
        // pid 1 of a namespace ignores its own SIGKILL: kill(0) there reaches only unshare, its
        // parent in the same group, and whether that takes the rank down before it returns is a race
        if (driver === 'namespace' && (c.how === 'ppid' || c.how === 'group') && info.state === 'succeeded') {
          t.pass(`${c.how}: kill(0) in a namespace did not end the rank in time; it returned`)
        } else {
          t.equal(info.state, 'failed', `${c.how}: the job fails`)
          t.match(info.reason ?? '', c.reason, `${c.how}: with a clear reason (${info.reason ?? ''})`)
        }
        t.notMatch(info.reason ?? '', /requeued|restart/, `${c.how}: the rank's own doing is not retried`)
        await peerAlive(t, lab, c.how)
      }
      const n = 30_000
      const { jobId } = await submit(lab.broker, join(ROOT, 'profiles', 'primes.yaml'), { n: String(n), processes: '2' })
      const { info, result } = await waitJob(lab.broker, jobId, 60_000)
      t.equal(info.state, 'succeeded', `a normal job runs on the same node afterwards: ${info.reason ?? ''}`)
      t.equal(JSON.parse(result.resultJson ?? 'null'), primeCount(n), 'with the right answer')
      t.same(info.placement.map((p) => p.peerId).filter((p, i, a) => a.indexOf(p) === i).length, 1, 'on the one peer')
    })

    t.test('kill -9 of a rank from outside: a lost slot, retried, and the job succeeds', async (t) => {
      const tag = randomUUID()
      const ms = 8000
      const { jobId } = await submit(lab.broker, join(FIX, 'sleeper.yaml'), { processes: '2', ms: String(ms), tag })
      const node = createNodeClient(peer.ready.soapUrl)
      let victim: number | undefined
      await waitFor(async () => {
        const ps = (await node.ListProcesses({})).processes.filter((p) => p.jobId === jobId)
        victim = ps.find((p) => p.rank === 1)?.pid
        return ps.length === 2 && victim !== undefined && victim > 0
      }, 30_000, 'both ranks of the sleeper to run')
      process.kill(victim!, 'SIGKILL')
      const { info, result } = await waitJob(lab.broker, jobId, 90_000)
      t.equal(info.state, 'succeeded', `retried like a lost node, then succeeded: ${info.reason ?? ''}`)
      const requeued = (await eventsOf(lab, jobId)).filter((e) => e.to_state === 'queued' && e.detail !== null && e.detail.includes('requeued'))
      t.equal(requeued.length, 1, 'requeued once')
      t.match(requeued[0]?.detail ?? '', /rank 1 on \S+ \(\S+\) failed: E_RANK_LOST: rank 1 killed by SIGKILL \(outside signal\); requeued \(restart 1 of \d+\)/, `the requeue reason names the rank and the outside signal (${requeued[0]?.detail ?? ''})`)
      t.same(result.ranks.map((r) => r.exitCode), [0, 0], 'every rank of the new run exited 0')
      t.same(result.ranks.map((r) => (JSON.parse(r.resultJson ?? '{}') as { rank?: number, slept?: number })).map((r) => [r.rank, r.slept]), [[0, ms], [1, ms]], 'and returned its answer')
      await peerAlive(t, lab, 'the kill')
    })
  })
}
