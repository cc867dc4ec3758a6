// `npm run chaos [-- --duration 4m] [--seed N] [--quick] [--only kinds] [--keep]`: prints the
// table on stdout, progress on stderr; exit 0 iff nothing was lost and nothing was wrong.
import { Command } from 'commander'
import { toMvmError } from '@mvm/core'
import { FAULT_KINDS, runChaos } from './index.js'

/** "90", "90s", "4m", "1500ms" as milliseconds. */
function duration (v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim())
  if (m === null) throw new Error(`--duration: expected a number of seconds or 90s / 4m / 1500ms, got "${v}"`)
  const n = Number(m[1])
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000)
}

const program = new Command('chaos')
  .description('chaos run against a real lab: sample jobs under hostile ranks, hostile requests and kill -9 of broker, peers and ranks')
  .option('--duration <time>', 'how long faults are injected (the final wait comes on top)', '4m')
  .option('--seed <n>', 'seed of the fault plan (default: random, printed)')
  .option('--quick', '60 s, each fault kind once, shorter final wait')
  .option('--only <kinds>', `comma-separated fault kinds: ${FAULT_KINDS.join(', ')}`)
  .option('--drain <time>', 'bound on the final wait for jobs in flight', '3m')
  .option('--concurrency <n>', 'sample jobs kept in flight', '3')
  .option('--keep', 'keep the data dir (node logs, job stores, events.log) even when the run passes')
  .option('--verbose', 'print every event on stderr, not only faults and findings')
program.parse()
const o = program.opts<{ duration: string, seed?: string, quick?: boolean, only?: string, drain: string, concurrency: string, keep?: boolean, verbose?: boolean }>()

const ac = new AbortController()
process.on('SIGINT', () => { ac.abort(new Error('interrupted')) })
process.on('SIGTERM', () => { ac.abort(new Error('terminated')) })

try {
  const seed = o.seed !== undefined ? Number(o.seed) : Math.floor(Math.random() * 2 ** 31)
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed: expected a non-negative integer, got "${o.seed ?? ''}"`)
  const concurrency = Number(o.concurrency)
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`--concurrency: expected an integer >= 1, got "${o.concurrency}"`)
  const quick = o.quick === true
  const given = (name: string): boolean => program.getOptionValueSource(name) !== 'default'
  const durationMs = quick && !given('duration') ? 60_000 : duration(o.duration)
  const kinds = o.only?.split(',').map((s) => s.trim()).filter((s) => s !== '')
  const report = await runChaos({
    durationMs,
    seed,
    ...(kinds !== undefined ? { kinds } : {}),
    concurrency,
    ...(quick ? { faultEveryMs: Number.POSITIVE_INFINITY } : {}),
    drainMs: quick && !given('drain') ? 120_000 : duration(o.drain),
    ...(o.keep === true ? { keep: true } : {}),
    signal: ac.signal,
    log: (line) => { if (o.verbose === true || /FAULT|UNPLANNED|VANISHED|-> (lost|wrong)|seed|lab up|faults done/.test(line)) process.stderr.write(line + '\n') }
  })
  process.stdout.write(report.table)
  for (const f of report.findings) process.stdout.write(f + '\n')
  if (report.unplannedExits.length > 0) process.stdout.write(`unplanned node deaths: ${report.unplannedExits.join('; ')}\n`)
  const total = report.rows[report.rows.length - 1]!
  process.stdout.write(`chaos: ${report.pass ? 'PASS' : 'FAIL'} (${total.lost} lost, ${total.wrong} wrong of ${total.submitted}) seed=${report.seed}${report.pass && o.keep !== true ? '' : ` data=${report.dir}`}\n`)
  process.exitCode = report.pass ? 0 : 1
} catch (err) {
  process.stderr.write(`chaos: ${toMvmError(err).message}\n`)
  process.exitCode = 2
}
