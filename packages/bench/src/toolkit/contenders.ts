import { UnavailableError, sleep } from '@mvm/core'
import type { BenchContext, Contender } from '../types.js'
import { timedPool } from '../baselines/helpers.js'
import { treeRssMiB } from '../rss.js'
import { startLab, type Lab } from './lab.js'
import { jobPath } from './shared.js'
import { benchJob, resultValue, runJob, waitJob } from './submit.js'

/** submit → result of the trivial 2-rank job on the shared (warm) lab, ms. */
export function launchWarm (ctx: BenchContext): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const req = await benchJob('trivial')
      // the pool refills in the background after each job: measure a warm lab, not a refilling one
      await sleep(POOL_SETTLE_MS, signal)
      const t0 = performance.now()
      await runJob(lab.broker, req, signal)
      return performance.now() - t0
    }
  }
}

/** Enough for the peers to re-start the two pooled processes the previous job used. */
const POOL_SETTLE_MS = 400

/** The same on a lab started just before (no sandbox pool, nothing compiled), ms. */
export function launchCold (ctx: BenchContext): Contender {
  return {
    async setup () { await jobPath(ctx) },
    async sample (signal) {
      const lab = await startLab({ root: ctx.root, peers: 2, slots: 4, signal })
      try {
        const req = await benchJob('trivial')
        const t0 = performance.now()
        await runJob(lab.broker, req, signal)
        return performance.now() - t0
      } finally { await lab.stop() }
    }
  }
}

/** Trivial jobs through the broker over SOAP, `concurrency` in flight: jobs/s. */
export function jobRate (ctx: BenchContext, count: number, concurrency: number): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const req = await benchJob('trivial')
      const ms = await timedPool(count, concurrency, async () => { await runJob(lab.broker, req, signal) })
      return count / (ms / 1000)
    }
  }
}

/** One array job of `elements` one-rank elements, submit → parent done: elements/s. */
export function arrayRate (ctx: BenchContext, elements: number): Contender {
  let lab: Lab
  const values = `values: [${Array.from({ length: elements }, (_, i) => `{ i: ${i} }`).join(', ')}]`
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const req = await benchJob('array', {}, (y) => y.replace(/values: \[\{ i: 0 \}\]/, values))
      const t0 = performance.now()
      const { jobId } = await lab.broker.SubmitJob(req, { signal, timeoutMs: 60_000 })
      await waitJob(lab.broker, jobId, signal)
      return elements / ((performance.now() - t0) / 1000)
    }
  }
}

/** A bench job whose rank 0 returns the figure itself (a number, or `{ ms }`). */
export function jobFigure (ctx: BenchContext, profile: string, params: Record<string, string | number>, pick: (v: any) => number = (v) => Number(v)): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const v = pick(resultValue(await runJob(lab.broker, await benchJob(profile, params), signal)))
      if (!Number.isFinite(v)) throw new UnavailableError(`${profile} returned no figure`)
      return v
    }
  }
}

/** RSS (MiB) of a peer node and its children while it runs the 4-rank hold job. */
export function nodeWithJobRss (ctx: BenchContext): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const { jobId } = await lab.broker.SubmitJob(await benchJob('hold', { ms: 3000 }), { signal, timeoutMs: 30_000 })
      try {
        for (let i = 0; i < 2000; i++) {
          const info = await lab.broker.GetJob({ jobId }, { signal, timeoutMs: 10_000 })
          if (info.state === 'running' && info.ranksStarted >= 4) {
            const peerId = info.placement[0]?.peerId
            const peer = lab.peers.find((p) => p.peerId === peerId)
            if (peer === undefined) throw new UnavailableError(`job ${jobId} placed on unknown peer ${String(peerId)}`)
            return await treeRssMiB(peer.pid)
          }
          if (['succeeded', 'failed', 'cancelled'].includes(info.state)) throw new UnavailableError(`hold job ended (${info.state}) before all 4 ranks were seen running`)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
        throw new UnavailableError('hold job never had 4 ranks running')
      } finally {
        await waitJob(lab.broker, jobId, signal, 60_000).catch(() => {})
      }
    }
  }
}

/** RSS (MiB) of an idle peer node (its process and any children), in a lab of its own. */
export function idlePeerRss (ctx: BenchContext): Contender {
  let lab: Lab | undefined
  return {
    async setup (signal) { lab = await startLab({ root: ctx.root, peers: 1, slots: 4, signal }) },
    async sample () { return await treeRssMiB(lab!.peers[0]!.pid) },
    async teardown () { await lab?.stop() }
  }
}

/** SOAP calls/s against a super-peer with no peers (submitted jobs stay queued). */
export function brokerCalls (ctx: BenchContext, op: 'SubmitJob' | 'GetJob', calls: number, concurrency: number): Contender {
  let lab: Lab | undefined
  let jobId = ''
  return {
    async setup (signal) {
      lab = await startLab({ root: ctx.root, peers: 0, signal })
      jobId = (await lab.broker.SubmitJob(await benchJob('trivial'), { signal, timeoutMs: 30_000 })).jobId
    },
    async sample (signal) {
      const req = await benchJob('trivial')
      const b = lab!.broker
      const ms = await timedPool(calls, concurrency, async () => {
        if (op === 'SubmitJob') await b.SubmitJob(req, { signal, timeoutMs: 30_000 })
        else await b.GetJob({ jobId }, { signal, timeoutMs: 30_000 })
      })
      return calls / (ms / 1000)
    },
    async teardown () { await lab?.stop() }
  }
}
