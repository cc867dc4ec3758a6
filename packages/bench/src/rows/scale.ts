import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { BenchContext, Contender, RowGroup } from '../types.js'

/**
 * Scale rows from `mvm sim` runs (one process, bounded): the figure and its baseline come from
 * the same run. One run takes minutes, so the row's rounds all read that run's medians (the row
 * budget would stop a second run anyway): min and max show no spread.
 */

interface SchedJson { baseline: { perDecisionUs: { p50: number } }, full: { perDecisionUs: { p50: number } } }

/** Runs `mvm sim` with `args` and `--json`; rejects after `timeoutMs` or on a bad exit. */
async function simJson<T> (c: BenchContext, args: string[], timeoutMs: number): Promise<T> {
  const child = spawn(process.execPath, ['--max-old-space-size=8192', join(c.root, 'packages/cli/bin/mvm.js'), 'sim', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-4000); c.log(`  sim: ${d.trimEnd()}`) })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  clearTimeout(timer)
  if (code !== 0) throw new Error(`mvm sim ${args.join(' ')} exited ${String(code)}: ${err.slice(-400)}`)
  return JSON.parse(out) as T
}

/** The run's median time per started job at one queue length (the run is shared by both sides). */
function fromRun (c: BenchContext, side: 'baseline' | 'full', args: string[]): Contender {
  return {
    async sample () {
      const run = await c.shared('sim-sched', async () => await simJson<SchedJson>(c, args, 1_800_000), async () => {})
      const v = run[side].perDecisionUs.p50
      if (!Number.isFinite(v)) throw new Error(`the sim run measured no decision at the ${side} queue`)
      return v
    }
  }
}

function schedArgs (c: BenchContext): string[] {
  const q = c.profile.quick
  const groups = q ? 20 : 100
  return ['--peers', String(groups * 2), '--groups', String(groups), '--queued', String(q ? 20_000 : 100_000), '--baseline-queued', String(q ? 200 : 1_000), '--heartbeat-ms', '5000', '--missed', '6', '--window', '20000', '--timeout', '900']
}

export const scaleRows: RowGroup = {
  name: 'scale',
  title: 'Scale: mvm sim (real nodes over the in-memory transport, simulated ranks)',
  rows: [{
    id: 'scale.sched-100k',
    figure: 'scheduling latency (a broker\'s pass / jobs it started) at 100,000 queued across 100 groups (20,000 over 20 with --quick)',
    baseline: 'the same at 1,000 queued (200 with --quick), same run',
    unit: 'µs',
    better: 'lower',
    note: 'mvm sim --queued, one run: the median over every pass of every broker that started jobs (its dispatch bookkeeping included)',
    make: (c) => ({ a: fromRun(c, 'full', schedArgs(c)), b: fromRun(c, 'baseline', schedArgs(c)) })
  }]
}
