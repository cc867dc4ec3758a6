import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { BenchContext, Contender, RowGroup } from '../types.js'

/**
 * Scale rows from `mvm sim` runs (one process each, bounded): the figure and its baseline come
 * from the same bench run (the rest rows: one run per size, shared by the three rows). One run takes minutes, so the row's rounds all read that run's medians (the row
 * budget would stop a second run anyway): min and max show no spread.
 */

interface SchedJson { baseline: { perDecisionUs: { p50: number } }, full: { perDecisionUs: { p50: number } } }

/** Runs `mvm sim` with `args` and `--json`; rejects after `timeoutMs` or on a bad exit. */
async function simJson<T> (c: BenchContext, args: string[], timeoutMs: number, oldSpaceMB = 8192): Promise<T> {
  // the young generation as `npm run sim` sizes it: thousands of nodes in one heap
  const child = spawn(process.execPath, [`--max-old-space-size=${oldSpaceMB}`, '--max-semi-space-size=64', join(c.root, 'packages/cli/bin/mvm.js'), 'sim', ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
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

interface RestJson { convergenceMs: number, steady: { perPeer: { bytesPerSec: { mean: number } }, root: { bytesPerSec: number } } }

/** The community sizes the rest rows compare: 10,000 against 1,000 peers (2,000 against 500 with --quick), 100 per group. */
function restSizes (c: BenchContext): { big: number, small: number } {
  return c.profile.quick ? { big: 2000, small: 500 } : { big: 10_000, small: 1000 }
}

/** One `mvm sim` run at `peers` (heartbeat 5 s, two processes), shared by every rest row; rejects if it does not converge in time. */
async function restRun (c: BenchContext, peers: number): Promise<RestJson> {
  // two processes at every size, as `npm run sim` runs them: one cannot join 10,000 on 2 cores
  const args = ['--peers', String(peers), '--groups', String(Math.max(1, Math.round(peers / 100))), '--heartbeat-ms', '5000', '--missed', '6', '--timeout', '900', '--workers', '2']
  return await c.shared(`sim-rest-${peers}`, async () => await simJson<RestJson>(c, args, 1_200_000, peers > 5000 ? 16_384 : 8192), async () => {})
}

function fromRest (c: BenchContext, side: 'big' | 'small', read: (r: RestJson) => number): Contender {
  return {
    async sample () {
      const v = read(await restRun(c, restSizes(c)[side]))
      if (!Number.isFinite(v)) throw new Error('the sim run gave no figure')
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
    id: 'scale.peer-bytes',
    figure: 'control bytes/s per peer at rest, 10,000 peers in 100 groups (2,000 in 20 with --quick)',
    baseline: 'the same at 1,000 peers in 10 groups (500 in 5 with --quick), same bench run',
    unit: 'B/s',
    better: 'lower',
    note: 'mvm sim --workers 2, heartbeat 5 s, one run per size shared by the scale rows: the mean over the peers of frames sent and received; 1.0 means O(1) per node',
    make: (c) => ({ a: fromRest(c, 'big', (r) => r.steady.perPeer.bytesPerSec.mean), b: fromRest(c, 'small', (r) => r.steady.perPeer.bytesPerSec.mean) })
  }, {
    id: 'scale.root-bytes',
    figure: 'control bytes/s at the root super-peer at rest, 10,000 peers (2,000 with --quick)',
    baseline: 'the same at 1,000 peers (500 with --quick), same bench run',
    unit: 'B/s',
    better: 'lower',
    note: 'its own group\'s heartbeats and its child super-peers\' delta reports; 1.0 means the root\'s load does not grow with N',
    make: (c) => ({ a: fromRest(c, 'big', (r) => r.steady.root.bytesPerSec), b: fromRest(c, 'small', (r) => r.steady.root.bytesPerSec) })
  }, {
    id: 'scale.convergence',
    figure: 'membership convergence, 10,000 peers joining in waves of 1,000 (2,000 in waves of 200 with --quick)',
    baseline: 'the same at 1,000 peers (500 with --quick), same bench run',
    unit: 'ms',
    better: 'lower',
    note: 'from the first peer starting until every group\'s view has all its members up; 10× the peers: a ratio of 10 is linear',
    make: (c) => ({ a: fromRest(c, 'big', (r) => r.convergenceMs), b: fromRest(c, 'small', (r) => r.convergenceMs) })
  }, {
    id: 'scale.sched-100k',
    figure: 'scheduling latency (a broker\'s pass / jobs it started) at 100,000 queued across 100 groups (20,000 over 20 with --quick)',
    baseline: 'the same at 1,000 queued (200 with --quick), same run',
    unit: 'µs',
    better: 'lower',
    note: 'mvm sim --queued, one run: the median over every pass of every broker that started jobs (its dispatch bookkeeping included)',
    make: (c) => ({ a: fromRun(c, 'full', schedArgs(c)), b: fromRun(c, 'baseline', schedArgs(c)) })
  }]
}
