import type { ChildProcess } from 'node:child_process'
import { createBrokerClient, type BrokerClient, type SubmitJobRequest } from '@mvm/soap'
import type { BenchContext, Contender } from '../types.js'
import { startServer, stopAllOf, timedPool } from '../baselines/helpers.js'
import { startLab, type Lab } from './lab.js'
import { jobPath } from './shared.js'
import { benchJob, runJob, waitJobs } from './submit.js'

/** Profiles per SubmitJobs call: well inside the 4 MiB request bound for the trivial job. */
export const BATCH = 100

/** The trivial bench job with `processes` ranks (its default is 2). */
async function trivial (processes: number): Promise<SubmitJobRequest> {
  return await benchJob('trivial', { processes })
}

/** Trivial `processes`-rank jobs through the broker over SOAP, `concurrency` in flight (SubmitJob then WaitJob each): jobs/s. */
export function trivialRate (ctx: BenchContext, count: number, concurrency: number, processes: number): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const req = await trivial(processes)
      const ms = await timedPool(count, concurrency, async () => { await runJob(lab.broker, req, signal) })
      return count / (ms / 1000)
    }
  }
}

/** `count` trivial 1-rank jobs queued at once with SubmitJobs, then waited for with WaitJobs: jobs/s from the first submit to the last result. */
export function queuedRate (ctx: BenchContext, count: number): Contender {
  let lab: Lab
  return {
    async setup () { lab = await jobPath(ctx) },
    async sample (signal) {
      const req = await trivial(1)
      const t0 = performance.now()
      const ids: string[] = []
      for (let i = 0; i < count; i += BATCH) {
        const jobs = Array.from({ length: Math.min(BATCH, count - i) }, () => req)
        const { submitted } = await lab.broker.SubmitJobs({ jobs }, { signal, timeoutMs: 60_000 })
        for (const s of submitted) ids.push(s.jobId)
      }
      await waitJobs(lab.broker, ids, signal)
      return count / ((performance.now() - t0) / 1000)
    }
  }
}

/** Jobs accepted per second by SubmitJobs in calls of `batch`, sequential, on a super-peer with no peers (jobs stay queued). */
export function batchSubmitRate (ctx: BenchContext, calls: number, batch: number): Contender {
  let lab: Lab | undefined
  return {
    async setup (signal) { lab = await startLab({ root: ctx.root, peers: 0, signal }) },
    async sample (signal) {
      const req = await trivial(1)
      const jobs = Array.from({ length: batch }, () => req)
      const ms = await timedPool(calls, 1, async () => { await lab!.broker.SubmitJobs({ jobs }, { signal, timeoutMs: 60_000 }) })
      return (calls * batch) / (ms / 1000)
    },
    async teardown () { await lab?.stop() }
  }
}

/**
 * Jobs/s through the broker side alone (children/broker-front: broker + SOAP job operations,
 * stand-in nodes whose ranks end at once), `concurrency` in flight, each SubmitJob + WaitJob +
 * GetJobResult from this process like a real client: the ceiling the broker puts on throughput.
 */
export function brokerSideRate (count: number, concurrency: number, processes: number): Contender {
  let server: ChildProcess | undefined
  let broker: BrokerClient | undefined
  return {
    async setup (signal) {
      const s = await startServer<{ url: string }>('broker-front', [], signal)
      server = s.child
      broker = createBrokerClient(s.ready.url)
    },
    async sample (signal) {
      const req = await trivial(processes)
      const ms = await timedPool(count, concurrency, async () => { await runJob(broker!, req, signal) })
      return count / (ms / 1000)
    },
    async teardown () { await stopAllOf(server) }
  }
}
