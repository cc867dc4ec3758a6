import { UnavailableError, sleep } from '@mvm/core'
import type { BenchContext, Contender } from '../types.js'
import type { Lab } from './lab.js'
import { jobPath } from './shared.js'
import { benchJob, resultValue, waitJob } from './submit.js'

/**
 * What a running 2-rank ring sees, in ms between two of its checkpoint points: `move`, the pause
 * when 300 ms into its run rank 1 is moved to the other node (MigrateRank: a fresh cut, the ranks
 * stopped and started again from it); `point`, the median gap of a run left alone (the baseline).
 */
export function migrationPause (ctx: BenchContext, what: 'move' | 'point'): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const { jobId } = await lab.broker.SubmitJob(await benchJob('migrate', { moved: what === 'move' ? 1 : 0 }), { signal, timeoutMs: 30_000 })
      let running = false
      for (let i = 0; i < 1500 && !running; i++) {
        const info = await lab.broker.GetJob({ jobId }, { signal, timeoutMs: 10_000 })
        running = info.state === 'running' && info.ranksStarted >= 2
        if (['succeeded', 'failed', 'cancelled'].includes(info.state)) throw new UnavailableError(`migrate job ended (${info.state}) before it was seen running`)
        if (!running) await sleep(20)
      }
      if (!running) throw new UnavailableError('the migrate job never ran')
      await sleep(300)
      if (what === 'move') {
        const { placement } = await lab.broker.GetJob({ jobId }, { signal, timeoutMs: 10_000 })
        const from = placement.find((p) => p.rank === 1)?.peerId
        const to = lab.peers.find((p) => p.peerId !== from)
        if (to === undefined) throw new UnavailableError('the lab has no second node to move rank 1 to')
        await lab.broker.MigrateRank({ jobId, rank: 1, node: to.peerId }, { signal, timeoutMs: 60_000 })
      }
      const out = resultValue(await waitJob(lab.broker, jobId, signal, 120_000)) as { pauseMs?: number, pointMs?: number } | undefined
      const v = Number(what === 'move' ? out?.pauseMs : out?.pointMs)
      if (!Number.isFinite(v) || v <= 0) throw new UnavailableError(`the migrate job returned no pause (${String(v)})`)
      return v
    }
  }
}
