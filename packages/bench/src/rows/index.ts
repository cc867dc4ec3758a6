import { forkIpc } from '../baselines/fork-ipc.js'
import { idleNodeRss, primesSerial, queueHolder } from '../baselines/footprint.js'
import { mpiLaunch } from '../baselines/mpi.js'
import { rawTransport } from '../baselines/net.js'
import { nodePair, nodePairRate } from '../baselines/processes.js'
import { soapEcho } from '../baselines/soap-echo.js'
import {
  arrayRate, brokerCalls, idlePeerRss, jobFigure, jobRate, launchCold, launchWarm, nodeWithJobRss
} from '../toolkit/contenders.js'
import type { RowGroup, RowSpec } from '../types.js'
import { checkpoints, collectives, migration, shared } from './collectives.js'
import { batchSoapRows, decisionRows, inflightRows } from './submit.js'
import { dataRows } from './data.js'
import { resize } from './resize.js'
import { failover } from './failover.js'
import { scaleRows } from './scale.js'

const PAIR = 'two plain node processes (fork), one message each way'
const KiB64 = 64 * 1024

const launch: RowGroup = {
  name: 'launch',
  title: 'Launch: submit → result of a trivial 2-rank job',
  rows: [
    { id: 'launch.warm', figure: 'MVM, warm lab', baseline: PAIR, unit: 'ms', better: 'lower', make: (c) => ({ a: launchWarm(c), b: nodePair() }) },
    { id: 'launch.cold', figure: 'MVM, lab started just before', baseline: PAIR, unit: 'ms', better: 'lower', rounds: (p) => Math.min(p.rounds, 3), make: (c) => ({ a: launchCold(c), b: nodePair() }) },
    { id: 'launch.mpi', figure: 'MVM, warm lab', baseline: 'mpiexec -n 2 of a trivial MPI C program', unit: 'ms', better: 'lower', make: (c) => ({ a: launchWarm(c), b: mpiLaunch(c.outDir) }) }
  ]
}

const throughput: RowGroup = {
  name: 'throughput',
  title: 'Throughput: trivial jobs through the broker over SOAP, 2 peers',
  rows: [
    { id: 'throughput.seq', figure: 'MVM jobs/s, sequential', baseline: `${PAIR}, sequential`, unit: 'jobs/s', better: 'higher', make: (c) => ({ a: jobRate(c, c.profile.seqJobs, 1), b: nodePairRate(c.profile.seqJobs, 1) }) },
    ...inflightRows,
    { id: 'throughput.array', figure: 'MVM array job, elements/s', baseline: `${PAIR}, 32 in flight`, unit: 'elements/s', better: 'higher', rounds: (p) => Math.min(p.rounds, 3), warmup: (p) => p.quick ? p.warmup : 0, make: (c) => ({ a: arrayRate(c, c.profile.arrayElements), b: nodePairRate(c.profile.inflightJobs, 32) }) }
  ]
}

function messageRows (where: 'local' | 'remote'): RowSpec[] {
  const strategy = where === 'local' ? 'pack' : 'spread'
  const sdk = where === 'local' ? 'SDK send/recv, 2 ranks on one node' : 'SDK send/recv, ranks on two nodes'
  // warm-up as long as the timed part: the baselines run in processes warmed by earlier samples
  const lat = (c: Parameters<RowSpec['make']>[0]): ReturnType<typeof jobFigure> => jobFigure(c, 'messages', { mode: 'latency', messages: c.profile.latencyMessages, warmup: c.profile.latencyMessages, strategy })
  const bw = (c: Parameters<RowSpec['make']>[0]): ReturnType<typeof jobFigure> => jobFigure(c, 'messages', { mode: 'bandwidth', messages: c.profile.bandwidthMessages, warmup: c.profile.bandwidthMessages, bytes: KiB64, strategy })
  if (where === 'local') {
    return [
      { id: 'local.latency', figure: `${sdk}, small message one way`, baseline: 'child_process.fork IPC, two plain processes', unit: 'µs', better: 'lower', make: (c) => ({ a: lat(c), b: forkIpc('latency', c.profile.latencyMessages) }) },
      { id: 'local.bandwidth', figure: `${sdk}, 64 KiB messages streamed`, baseline: 'child_process.fork IPC, two plain processes', unit: 'MB/s', better: 'higher', make: (c) => ({ a: bw(c), b: forkIpc('bandwidth', c.profile.bandwidthMessages) }) }
    ]
  }
  return [
    { id: 'remote.latency', figure: `${sdk}, small message one way`, baseline: 'raw libp2p stream (TCP+Noise+Yamux), 16 B', unit: 'µs', better: 'lower', make: (c) => ({ a: lat(c), b: rawTransport('libp2p', 'latency', c.profile.latencyMessages) }) },
    { id: 'remote.bandwidth', figure: `${sdk}, 64 KiB messages streamed`, baseline: 'raw libp2p stream (TCP+Noise+Yamux), 64 KiB chunks', unit: 'MB/s', better: 'higher', make: (c) => ({ a: bw(c), b: rawTransport('libp2p', 'bandwidth', c.profile.bandwidthMessages) }) },
    { id: 'remote.latency-tcp', figure: 'raw libp2p stream, 16 B one way', baseline: 'raw TCP socket, 16 B (context)', unit: 'µs', better: 'lower', make: (c) => ({ a: rawTransport('libp2p', 'latency', c.profile.latencyMessages), b: rawTransport('tcp', 'latency', c.profile.latencyMessages) }) },
    { id: 'remote.bandwidth-tcp', figure: 'raw libp2p stream, 64 KiB chunks', baseline: 'raw TCP socket, 64 KiB chunks (context)', unit: 'MB/s', better: 'higher', make: (c) => ({ a: rawTransport('libp2p', 'bandwidth', c.profile.bandwidthMessages), b: rawTransport('tcp', 'bandwidth', c.profile.bandwidthMessages) }) }
  ]
}

const science: RowGroup = {
  name: 'science',
  title: 'Science: primes below n, k ranks vs the same code serially',
  rows: [1, 2, 4].map((k): RowSpec => ({
    id: `science.primes-${k}`,
    figure: `MVM primes, ${k} rank${k === 1 ? '' : 's'} (in-job time)`,
    baseline: 'the same countPrimes serially in one plain process',
    unit: 'ms',
    better: 'lower',
    rounds: (p) => p.quick ? p.rounds : Math.min(p.rounds, 5),
    note: `speed-up = 1/ratio, efficiency = speed-up/${k}`,
    make: (c) => ({ a: jobFigure(c, 'primes', { processes: k, n: c.profile.primesN }, (v) => Number(v?.ms)), b: primesSerial(c.profile.primesN) })
  }))
}

const footprint: RowGroup = {
  name: 'footprint',
  title: 'Footprint: memory and scheduling cost',
  rows: [
    { id: 'footprint.idle-node', figure: 'RSS of an idle MVM peer node', baseline: 'RSS of an idle plain node process', unit: 'MiB', better: 'lower', make: (c) => ({ a: idlePeerRss(c), b: idleNodeRss(0) }) },
    { id: 'footprint.node-4-ranks', figure: 'RSS of a peer node running a 4-rank job (node + ranks)', baseline: 'plain node process + 4 idle child processes', unit: 'MiB', better: 'lower', make: (c) => ({ a: nodeWithJobRss(c), b: idleNodeRss(4) }) },
    { id: 'footprint.broker-queued', figure: 'RSS of @mvm/broker with 10,000 queued jobs', baseline: 'plain process holding 10,000 job requests in a Map', unit: 'MiB', better: 'lower', make: (c) => ({ a: queueHolder('broker', c.profile.queuedJobs, 'rss'), b: queueHolder('plain', c.profile.queuedJobs, 'rss') }) },
    ...decisionRows
  ]
}

const soap: RowGroup = {
  name: 'soap',
  title: 'SOAP: broker calls vs node-soap\'s minimal echo service',
  rows: [
    { id: 'soap.submit', figure: 'Broker.SubmitJob calls/s, sequential', baseline: 'node-soap Echo calls/s, sequential', unit: 'calls/s', better: 'higher', make: (c) => ({ a: brokerCalls(c, 'SubmitJob', soapCalls(c), 1), b: soapEcho(soapCalls(c), 1) }) },
    { id: 'soap.getjob', figure: 'Broker.GetJob calls/s, sequential', baseline: 'node-soap Echo calls/s, sequential', unit: 'calls/s', better: 'higher', make: (c) => ({ a: brokerCalls(c, 'GetJob', soapCalls(c), 1), b: soapEcho(soapCalls(c), 1) }) },
    { id: 'soap.getjob-32', figure: 'Broker.GetJob calls/s, 32 in flight', baseline: 'node-soap Echo calls/s, 32 in flight', unit: 'calls/s', better: 'higher', make: (c) => ({ a: brokerCalls(c, 'GetJob', soapCalls(c) * 2, 32), b: soapEcho(soapCalls(c) * 2, 32) }) },
    ...batchSoapRows
  ]
}

function soapCalls (c: Parameters<RowSpec['make']>[0]): number { return c.profile.quick ? 100 : 400 }

/** Every group in report order; `--only` names groups or row ids. */
export const groups: RowGroup[] = [
  launch, throughput,
  { name: 'local', title: 'Local messages: two ranks on one node', rows: messageRows('local') },
  { name: 'remote', title: 'Remote messages: ranks on two nodes', rows: messageRows('remote') },
  collectives, checkpoints, migration, resize, shared, science, footprint, soap, dataRows, failover, scaleRows
]
