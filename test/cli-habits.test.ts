// The CLI habits of Slurm/HTCondor users against one real lab: `mvm logs -f` (tail -f of every
// rank), `mvm submit --wait` progress on a terminal and quiet when piped, `mvm jobs --watch`,
// `mvm completion bash|zsh` and `mvm help TOPIC`.
import t from 'tap'
import { join } from 'node:path'
import { ROOT, runCli, startLab, submit, waitJob, type TestLab } from './lib/lab.js'

const DRIP = join(ROOT, 'test', 'fixtures', 'cli-habits', 'drip.yaml')

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

const at = (): string[] => ['--bootstrap', lab.bootstrap]

/** The lines rank `r` of drip.ts prints on `stream`, in order, labelled as `mvm logs` labels them. */
function dripLines (r: number, ticks: number, stream: 'out' | 'err'): string[] {
  const lines: string[] = []
  for (let i = 0; i < ticks; i++) {
    if ((i % 5 === 4) === (stream === 'err')) lines.push(stream === 'err' ? `[r${r} err] r${r} warn ${i}` : `[r${r} out] r${r} tick ${i} ${'é'.repeat(i % 3)}`)
  }
  if (stream === 'out') lines.push(`[r${r} out] r${r} end`)
  return lines
}

t.test('mvm logs -f follows every rank live: each line once, in order, then the job\'s exit code', async (t) => {
  const { jobId } = await submit(lab.broker, DRIP, { ticks: '30', everyMs: '60' })
  const started = Date.now()
  const r = await runCli(['logs', '-f', jobId, '--interval', '100', ...at()], 60_000)
  t.equal(r.code, 0, r.stderr)
  const info = await lab.broker.GetJob({ jobId })
  t.equal(info.state, 'succeeded')
  // it was following, not reading once at the end: the job ran for about 30 × 60 ms
  t.ok(Date.now() - started >= 1500, 'the follower waited for the job')
  const lines = r.stdout.split('\n').filter((l) => l !== '')
  for (const rank of [0, 1]) {
    for (const s of ['out', 'err'] as const) {
      t.same(lines.filter((l) => l.startsWith(`[r${rank} ${s}]`)), dripLines(rank, 30, s), `rank ${rank} ${s}: every line once, in order`)
    }
  }
  t.equal(lines.length, 2 * (30 + 1), 'nothing else')

  const one = await runCli(['logs', '--follow', jobId.slice(0, 14), '--rank', '1', '--stream', 'err', ...at()], 30_000)
  t.equal(one.code, 0, one.stderr)
  t.equal(one.stdout, dripLines(1, 30, 'err').join('\n') + '\n', '--rank and --stream still select, a finished job ends at once')

  const tail = await runCli(['logs', '-f', jobId, '--rank', '0', '--tail', '2', ...at()], 30_000)
  t.equal(tail.code, 0, tail.stderr)
  const tailed = tail.stdout.split('\n')
  for (const s of ['out', 'err'] as const) t.same(tailed.filter((l) => l.startsWith(`[r0 ${s}]`)), dripLines(0, 30, s).slice(-2), `--tail 2 starts from the last 2 lines of ${s}`)
  t.equal(tailed.length, 5, 'four lines')
})

t.test('mvm logs -f on a failing job exits 2 with the reason', async (t) => {
  const { jobId } = await submit(lab.broker, DRIP, { ticks: '6', everyMs: '30', fail: '1' })
  const r = await runCli(['logs', '-f', jobId, ...at()], 60_000)
  t.equal(r.code, 2, r.stderr)
  t.match(r.stderr, `job ${jobId} failed`)
  t.match(r.stdout, '[r0 out] r0 end\n')
  t.match(r.stdout, '[r1 err] r1 warn 4\n')
  const bad = await runCli(['logs', '-f', jobId, '--rank', '7', ...at()], 30_000)
  t.equal(bad.code, 1)
  t.match(bad.stderr, 'there is no rank 7')
  await waitJob(lab.broker, jobId)
})
