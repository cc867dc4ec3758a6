import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { BenchContext, Contender, RowGroup } from '../types.js'

/**
 * Scale rows from `mvm sim` runs (one process each, bounded): the figure and its baseline come
 * from the same run, and each sample is one measured scheduling decision.
 */

interface SchedJson { baseline: { samples: number[] }, full: { samples: number[] } }

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

/** Takes the run's samples one by one (each sample of the row is one measured decision). */
function fromRun (c: BenchContext, side: 'baseline' | 'full', args: string[]): Contender {
  let i = 0
  return {
    async sample () {
      const run = await c.shared('sim-sched', async () => await simJson<SchedJson>(c, args, 1_800_000), async () => {})
      const xs = run[side].samples
      if (xs.length === 0) throw new Error(`the sim run measured no decision at the ${side} queue`)
      return xs[(i++) % xs.length]!
    }
  }
}

export const scaleRows: RowGroup = {
  name: 'scale',
  title: 'Scale: mvm sim (real nodes over the in-memory transport, simulated ranks)',
  rows: (c) => {
    const q = c.profile.quick
    const groups = q ? 20 : 100
    const queued = q ? 20_000 : 100_000
    const baseline = q ? 200 : 1_000
    const args = ['--peers', String(groups * 2), '--groups', String(groups), '--queued', String(queued), '--baseline-queued', String(baseline), '--heartbeat-ms', '5000', '--window', '20000', '--timeout', '900']
    return Promise.resolve([{
      id: 'scale.sched-100k',
      figure: `scheduling latency (one broker's pass / jobs it started) at ${queued.toLocaleString('en-US')} queued across ${groups} groups`,
      baseline: `the same at ${baseline.toLocaleString('en-US')} queued, same run`,
      unit: 'µs',
      better: 'lower',
      note: 'mvm sim --queued: each sample is one pass of one group\'s broker (its dispatch bookkeeping included)',
      make: () => ({ a: fromRun(c, 'full', args), b: fromRun(c, 'baseline', args) })
    }])
  }
}
