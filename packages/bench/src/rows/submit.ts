// The submission path's rows: jobs through the broker (1- and 2-rank, 32 in flight, 1,000
// queued at once), batch submit over SOAP, and the scheduling decision at 1k/10k/100k queued.
import { queueHolder } from '../baselines/footprint.js'
import { nodePairRate } from '../baselines/processes.js'
import { soapEcho } from '../baselines/soap-echo.js'
import { BATCH, batchSubmitRate, brokerSideRate, queuedRate, trivialRate } from '../toolkit/submit-rates.js'
import type { BenchContext, RowSpec } from '../types.js'

const PAIR = 'two plain node processes (fork), one message each way'
const QUEUED = 1000
/** --quick bounds a sample to 60 s: fewer jobs, queued the same way. */
const QUEUED_QUICK = 300

function inflightCount (c: BenchContext): number { return c.profile.quick ? 64 : 256 }

/** Replaces the throughput group's `throughput.inflight` row; `throughput.seq` and `.array` stay. */
export const inflightRows: RowSpec[] = [
  {
    id: 'throughput.inflight',
    figure: 'MVM jobs/s, trivial 1-rank jobs, 32 in flight (SubmitJob + WaitJob each)',
    baseline: `${PAIR}, 32 in flight`,
    unit: 'jobs/s',
    better: 'higher',
    rounds: (p) => Math.min(p.rounds, 5),
    make: (c) => ({ a: trivialRate(c, inflightCount(c), 32, 1), b: nodePairRate(c.profile.inflightJobs, 32) })
  },
  {
    id: 'throughput.inflight-2',
    figure: 'MVM jobs/s, trivial 2-rank jobs, 32 in flight (SubmitJob + WaitJob each)',
    baseline: `${PAIR}, 32 in flight`,
    unit: 'jobs/s',
    better: 'higher',
    rounds: (p) => Math.min(p.rounds, 5),
    make: (c) => ({ a: trivialRate(c, inflightCount(c), 32, 2), b: nodePairRate(c.profile.inflightJobs, 32) })
  },
  {
    id: 'throughput.queued-1000',
    figure: `MVM jobs/s, ${QUEUED.toLocaleString('en-US')} trivial 1-rank jobs queued at once (SubmitJobs, then WaitJobs; ${QUEUED_QUICK} with --quick)`,
    baseline: `${PAIR}, 32 in flight`,
    unit: 'jobs/s',
    better: 'higher',
    rounds: (p) => Math.min(p.rounds, 3),
    make: (c) => ({ a: queuedRate(c, c.profile.quick ? QUEUED_QUICK : QUEUED), b: nodePairRate(c.profile.inflightJobs, 32) })
  },
  {
    id: 'throughput.broker-side',
    figure: 'broker + SOAP alone, trivial 1-rank jobs/s, 32 in flight (stand-in nodes whose ranks end at once)',
    baseline: 'node-soap Echo calls/s, 32 in flight',
    unit: 'per s',
    better: 'higher',
    note: 'the ceiling the broker side puts on throughput.inflight: each job is 3 SOAP calls (SubmitJob, WaitJob, GetJobResult)',
    make: (c) => ({ a: brokerSideRate(c.profile.quick ? 200 : 800, 32, 1), b: soapEcho(c.profile.quick ? 200 : 800, 32) })
  }
]

/** Replaces `footprint.decision`: the same decision at three queue lengths, so its growth shows. */
export const decisionRows: RowSpec[] = [1_000, 10_000, 100_000].map((n): RowSpec => ({
  id: `footprint.decision-${n / 1000}k`,
  figure: `@mvm/broker scheduling decision, ${n.toLocaleString('en-US')} queued`,
  baseline: `linear scan of a Map of ${n.toLocaleString('en-US')} requests`,
  unit: 'µs',
  better: 'lower',
  note: 'one placement out of the queue, JIT-warm (its state change is group-committed on the next turn, outside the figure)',
  make: () => ({ a: queueHolder('broker', n, 'decide'), b: queueHolder('plain', n, 'decide') })
}))

/** Added to the soap group. */
export const batchSoapRows: RowSpec[] = [
  {
    id: 'soap.submit-jobs',
    figure: `Broker.SubmitJobs, jobs accepted/s (${BATCH} per call), sequential`,
    baseline: 'node-soap Echo calls/s, sequential',
    unit: 'per s',
    better: 'higher',
    make: (c) => ({ a: batchSubmitRate(c, c.profile.quick ? 5 : 20, BATCH), b: soapEcho(c.profile.quick ? 100 : 400, 1) })
  }
]
