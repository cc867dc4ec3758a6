// Malleable jobs (`processes: { min, max }`): the heat equation of profiles/heat-malleable.ts on a
// real lab (3 peers × 2 slots, `recovery: restart`). By hand (SOAP ResizeJob, `mvm resize`) it goes
// 2 → 4 → 2 ranks; with automatic resizing the broker grows it into the free slots; a peer under it
// is SIGKILLed after the grow. Every run's grid equals a serial run's to the last bit.
import t, { type Test } from 'tap'
import { join } from 'node:path'
import { ROOT, runCli, startLab, submit, waitFor, waitJob, type TestLab } from './lib/lab.js'
import { heatSerial } from './lib/oracles.js'

const FIX = join(ROOT, 'test', 'fixtures', 'resize')
const CELLS = 600
const STEPS = 200
// the job resized by hand runs longer: it must still run when the second resize (a CLI start away) comes
const MANUAL_STEPS = 300
const serials = new Map([STEPS, MANUAL_STEPS].map((s) => [s, heatSerial(CELLS, s, 0.25)]))

interface HeatResult { cells: number, steps: number, checksum: number, sizes: number[], grid: number[] }

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 3, slots: 2, superArgs: ['--policy', join(ROOT, 'test', 'fixtures', 'cut', 'restart-policy.yaml')] }) })
t.teardown(async () => { await lab?.stop() })

async function running (jobId: string, size: number): Promise<void> {
  await waitFor(async () => {
    const j = await lab.broker.GetJob({ jobId })
    return j.state === 'running' && j.size === size && j.placement.length === size
  }, 60_000, `job ${jobId} running at ${size} ranks`)
}

async function finished (t: Test, jobId: string, steps: number): Promise<HeatResult> {
  const { info, result } = await waitJob(lab.broker, jobId, 90_000)
  t.equal(info.state, 'succeeded', `the job succeeds: ${info.reason ?? ''}`)
  const out = JSON.parse(result.resultJson ?? '{}') as HeatResult
  const serial = serials.get(steps)!
  t.equal(out.steps, steps)
  t.equal(out.checksum, serial.reduce((a, b) => a + b, 0), 'the checksum equals the serial run\'s exactly')
  t.same(out.grid, serial, 'every cell equals the serial run\'s exactly')
  return out
}

t.test('by hand: 2 → 4 → 2 ranks (ResizeJob), refusals with stable codes (mvm resize)', async (t) => {
  const { jobId } = await submit(lab.broker, join(FIX, 'heat-manual.yaml'), { cells: String(CELLS), steps: String(MANUAL_STEPS) })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await running(jobId, 2)
  await t.rejects(lab.broker.ResizeJob({ jobId, size: 5 }), { code: 'E_BAD_REQUEST', message: /size must be an integer from 2 to 4/ }, 'above max is refused')
  await t.rejects(lab.broker.ResizeJob({ jobId, size: 1 }), { code: 'E_BAD_REQUEST' }, 'below min is refused')

  const up = await lab.broker.ResizeJob({ jobId, size: 4 }, { timeoutMs: 60_000 })
  t.equal(up.size, 4, 'ResizeJob answers with the job at 4 ranks')
  await running(jobId, 4)
  const cli = await runCli(['resize', jobId, '2', '--bootstrap', lab.bootstrap])
  t.equal(cli.code, 0, `mvm resize back to 2: ${cli.stderr}`)
  t.match(cli.stdout, / 2 ranks/, 'mvm resize prints the new size')
  const out = await finished(t, jobId, MANUAL_STEPS)
  t.same(out.sizes, [2, 4, 2], 'the run went through 2, 4 and 2 ranks')
  await t.rejects(lab.broker.ResizeJob({ jobId, size: 3 }), { code: 'E_INVALID_STATE' }, 'a finished job is not resized')
})

t.test('a job that is not malleable is refused (E_NOT_MALLEABLE)', async (t) => {
  const { jobId } = await submit(lab.broker, join(ROOT, 'profiles', 'heat.yaml'), { processes: '2', cells: '40', steps: '5' })
  // refused whatever its state: only its slots matter to the next subtest
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await t.rejects(lab.broker.ResizeJob({ jobId, size: 3 }), { code: 'E_NOT_MALLEABLE', message: /not malleable/ })
  const cli = await runCli(['resize', jobId, '3', '--bootstrap', lab.bootstrap])
  t.not(cli.code, 0, 'mvm resize exits non-zero')
  t.match(cli.stderr, /E_NOT_MALLEABLE/, 'and names the code')
})

t.test('the broker grows a malleable job into free slots; kill -9 of a peer after the grow: still exact', async (t) => {
  const { jobId } = await submit(lab.broker, join(FIX, 'heat-auto.yaml'), { cells: String(CELLS), steps: String(STEPS) })
  t.teardown(async () => { await lab.broker.CancelJob({ jobId }).catch(() => {}) })
  await running(jobId, 4)
  t.pass('grown from 2 to 4 ranks without being asked')
  const info = await lab.broker.GetJob({ jobId })
  const rank0 = info.placement.find((p) => p.rank === 0)!.peerId
  // a peer that holds a rank of the grown job but not rank 0
  const killed = info.placement.find((p) => p.peerId !== rank0)!.peerId
  const victim = lab.peers.find((p) => p.ready.peerId === killed)!
  // let a cut at the new size happen first half the time: either way the answer must be exact
  await new Promise((resolve) => setTimeout(resolve, 400))
  victim.child.kill('SIGKILL')
  const out = await finished(t, jobId, STEPS)
  t.equal(out.sizes[0], 2, 'it started at 2 ranks')
  t.ok(out.sizes.includes(4), `it ran at 4 ranks (sizes ${out.sizes.join(' → ')})`)
  const end = await lab.broker.GetJobResult({ jobId })
  t.ok(end.ranks.every((r) => r.peerId !== killed), 'every rank ended on a live peer')
})
