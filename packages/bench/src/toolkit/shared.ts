import { UnavailableError } from '@mvm/core'
import type { BenchContext } from '../types.js'
import { startLab, type Lab } from './lab.js'
import { benchJob, resultValue, runJob } from './submit.js'

/** The lab most toolkit rows share: a super-peer and two peers with 4 slots each. */
export async function sharedLab (ctx: BenchContext): Promise<Lab> {
  return await ctx.shared('lab', async () => {
    ctx.log('starting a lab: 1 super-peer + 2 peers on 127.0.0.1')
    return await startLab({ root: ctx.root, peers: 2, slots: 4 })
  }, async (lab) => { await lab.stop() })
}

/**
 * Whether submit → broker → peers → ranks works at all: one trivial job, tried once per run.
 * Until it does, every toolkit figure says "unavailable: <why>" at once instead of each
 * waiting for its own timeout.
 */
export async function jobPath (ctx: BenchContext): Promise<Lab> {
  const probe = await ctx.shared('job-path', async () => {
    let lab: Lab
    try { lab = await sharedLab(ctx) } catch (err) { return { ok: false as const, reason: `lab did not start: ${message(err)}` } }
    try {
      const res = await runJob(lab.broker, await benchJob('trivial'), AbortSignal.timeout(60_000), 60_000)
      const v = resultValue(res)
      if (v !== 2) return { ok: false as const, reason: `the trivial job returned ${JSON.stringify(v)}, expected 2` }
      return { ok: true as const, lab }
    } catch (err) {
      return { ok: false as const, reason: `job path: ${message(err)}` }
    }
  }, async () => {})
  if (!probe.ok) throw new UnavailableError(probe.reason)
  return probe.lab
}

export function message (err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200)
}
