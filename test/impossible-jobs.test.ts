// Issue 16 item 3: a job the group can never run is refused at submit with the reason, or held
// queued with that reason where the policy says nodes may still join; `mvm nodes` shows only
// slots that can run ranks and LOAD with a unit. A real lab (the super-peer runs no ranks).
import t from 'tap'
import { join } from 'node:path'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { ROOT, runCli, startLab, submit, waitFor, waitJob } from './lib/lab.js'

const PRIMES = join(ROOT, 'profiles', 'primes.yaml')
const SWEEP = join(ROOT, 'profiles', 'primes-sweep.yaml')
const REASON = "needs 6 slots; group 'lab' has 4 slots on 2 peers that can run ranks"

t.test('impossible jobs and mvm nodes on a real lab of 2 peers x 2 slots', { timeout: 600_000 }, async (t) => {
  const lab = await startLab({ peers: 2, slots: 2 })
  const dir = await mkdtemp(join(tmpdir(), 'mvm-cap-'))
  t.teardown(async () => { await lab.stop(); await rm(dir, { recursive: true, force: true }) })
  const cli = async (args: string[]): ReturnType<typeof runCli> => await runCli([...args, '--bootstrap', lab.bootstrap])

  await t.test('mvm nodes: the super-peer has no rank slots, LOAD has a unit', async (t) => {
    const r = await cli(['nodes'])
    t.equal(r.code, 0, r.stderr)
    const [head, ...lines] = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s{2,}/))
    // columns found by their header, so a new column does not break the reading
    const col = (name: string): number => head!.indexOf(name)
    const [ROLES, SLOTS, LOAD] = [col('ROLES'), col('SLOTS'), col('LOAD')]
    t.ok(ROLES >= 0 && SLOTS >= 0 && LOAD >= 0, `ROLES, SLOTS and LOAD columns in: ${head!.join(' | ')}`)
    const sp = lines.find((c) => c[ROLES]?.includes('super-peer'))
    t.ok(sp, 'the super-peer is listed')
    t.equal(sp?.[SLOTS], '-', 'its SLOTS column is -')
    const peers = lines.filter((c) => c[ROLES] === 'peer')
    t.equal(peers.length, 2)
    for (const p of peers) {
      t.equal(p[SLOTS], '2/2', 'a peer shows its free/total rank slots')
      t.match(p[LOAD], /^\d+\.\d\d cpu$/, 'LOAD is CPUs busy, with its unit')
    }
    // an idle node keeps (almost) no CPU busy, whatever else runs on the host: the old value was
    // the host's load average, as high as the machine was busy
    await waitFor(async () => (await lab.broker.ListNodes({})).nodes.every((n) => n.load < 0.5), 30_000, 'idle nodes to show under half a CPU busy')
    t.pass('idle nodes show their own load, not the host\'s')
  })

  await t.test('6 ranks on 4 usable slots: refused at submit, with the reason', async (t) => {
    const r = await cli(['submit', PRIMES, '-p', 'processes=6'])
    t.not(r.code, 0)
    t.match(r.stderr, 'E_CAPACITY')
    t.match(r.stderr, REASON)
    await t.rejects(submit(lab.broker, PRIMES, { processes: '6' }), { code: 'E_CAPACITY', message: new RegExp(REASON) })
    const sweep = await cli(['submit', SWEEP, '-p', 'processes=6'])
    t.match(sweep.stderr, /E_CAPACITY: sweep element 0\b.*needs 6 slots/, 'a sweep names the element that cannot run')
    t.equal((await lab.broker.ListJobs({})).jobs.length, 0, 'nothing was stored')
    const fits = await submit(lab.broker, PRIMES, { processes: '4', n: '1000' })
    t.equal((await waitJob(lab.broker, fits.jobId)).info.state, 'succeeded', 'a job of exactly 4 ranks runs')
  })

  await t.test('scheduling.waitForCapacity: accepted, queued with the reason, runs once a peer joins', async (t) => {
    const pol = join(dir, 'wait.yaml')
    await writeFile(pol, 'apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: wait }\nspec:\n  level: domain\n  scheduling: { waitForCapacity: true }\n')
    const applied = await cli(['policy', 'apply', pol])
    t.equal(applied.code, 0, applied.stderr)
    const { jobId } = await submit(lab.broker, PRIMES, { processes: '6', n: '1000' })
    const info = await lab.broker.GetJob({ jobId })
    t.equal(info.state, 'queued')
    t.equal(info.reason, `waiting for capacity: ${REASON}`)
    const status = await cli(['status', jobId])
    t.match(status.stdout, REASON, 'mvm status shows why it waits')
    t.match((await lab.broker.ListJobs({})).jobs.find((j) => j.jobId === jobId)?.reason, REASON, 'ListJobs too')
    await lab.addPeer()
    const done = await waitJob(lab.broker, jobId, 120_000)
    t.equal(done.info.state, 'succeeded', 'with a third peer (6 slots) the held job ran')
    t.equal(done.result.resultJson, '168')
  })
})
