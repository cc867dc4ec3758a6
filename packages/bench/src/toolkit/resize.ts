import { UnavailableError } from '@mvm/core'
import type { BrokerClient } from '@mvm/soap'
import type { BenchContext, Contender } from '../types.js'
import { jobPath } from './shared.js'
import type { Lab } from './lab.js'
import { benchJob } from './submit.js'

/** Polls until `size` ranks of the job run at that size; the ms it took from `t0`. */
async function untilRunning (broker: BrokerClient, jobId: string, size: number, t0: number, signal: AbortSignal): Promise<number> {
  for (let i = 0; i < 20_000; i++) {
    const j = await broker.GetJob({ jobId }, { signal, timeoutMs: 10_000 })
    if (j.state === 'running' && j.size === size && j.ranksStarted >= size) return performance.now() - t0
    if (['succeeded', 'failed', 'cancelled'].includes(j.state)) throw new UnavailableError(`job ${jobId} ended (${j.state}: ${j.reason ?? ''}) before ${size} ranks ran`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new UnavailableError(`job ${jobId} never ran at ${size} ranks`)
}

/**
 * `grow`: ms from ResizeJob(2 → 4) of the running bench-resize job until its 4 ranks run (the
 * cut, the stop, the new ranks started from the cut). `fresh`: ms from submitting the same job at
 * 4 ranks until its 4 ranks run (what a restart from scratch would cost).
 */
export function resizePause (ctx: BenchContext, mode: 'grow' | 'fresh'): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const req = await benchJob('resize', {}, mode === 'fresh' ? (y) => y.replace('size: 2 }', 'size: 4 }').replace(/processes: \{[^}]*\}/, 'processes: 4') : undefined)
      const t0 = performance.now()
      const { jobId } = await lab.broker.SubmitJob(req, { signal, timeoutMs: 30_000 })
      try {
        if (mode === 'fresh') return await untilRunning(lab.broker, jobId, 4, t0, signal)
        await untilRunning(lab.broker, jobId, 2, t0, signal)
        const t1 = performance.now()
        await lab.broker.ResizeJob({ jobId, size: 4 }, { signal, timeoutMs: 60_000 })
        return await untilRunning(lab.broker, jobId, 4, t1, signal)
      } finally {
        await lab.broker.CancelJob({ jobId }, { timeoutMs: 30_000 }).catch(() => {})
      }
    }
  }
}
