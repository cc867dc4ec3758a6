import type { Command } from 'commander'
import { availableParallelism } from 'node:os'
import { resolve } from 'node:path'
import { BadRequestError } from '@mvm/core'

interface SimFlags {
  peers: string, groups: string, jobs: string, fanout?: string, depth?: string, heartbeatMs: string, missed: string,
  slots: string, churn: string, mix: string, window?: string, workers: string, timeout: string, json?: boolean, policy?: string[]
  queued?: string, baselineQueued: string, rankMs: string, wide: string
}

function int (v: string, flag: string, min: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new BadRequestError(`${flag}: expected an integer >= ${min}, got "${v}"`)
  return n
}

/**
 * One process runs on one core, and on a 2-core machine it could not join 10,000 nodes in
 * minutes; small communities stay in one process (it starts faster), and churn needs one.
 */
function autoWorkers (peers: number, churn: number): number {
  if (peers < 2000 || churn > 0) return 1
  return Math.max(1, Math.min(availableParallelism(), Math.ceil(peers / 1000)))
}

export function register (program: Command): void {
  program.command('sim')
    .description('simulate a community in this process: real MVM nodes (membership, heartbeats, brokers, peer agents) over the in-memory libp2p transport, with ranks that only take time; prints control traffic, convergence, scheduling latency and memory')
    .option('--peers <n>', 'number of peers', '1000')
    .option('--groups <n>', 'number of peer groups (one super-peer each)', '10')
    .option('--jobs <n>', 'jobs to submit once the community has converged', '0')
    .option('--fanout <n>', 'most child super-peers per super-peer (default 10)')
    .option('--depth <n>', 'or: the deepest super-peer tree allowed (sets the fanout)')
    .option('--heartbeat-ms <ms>', 'heartbeat interval', '2000')
    .option('--missed <n>', 'missed heartbeats before a peer is down', '3')
    .option('--slots <n>', 'slots per peer', '2')
    .option('--churn <percent>', 'percent of the peers that leave, crash or join per minute while jobs run', '0')
    .option('--mix <ranks:ms,…>', 'job mix, submitted round-robin: ranks and milliseconds per rank', '1:100,2:200,4:500')
    .option('--window <ms>', 'how long the traffic at rest is measured (default three heartbeats)')
    .option('--workers <n|auto>', 'split the community over N processes, whole groups each (super-peers also on TCP 127.0.0.1 between them; no churn then); auto: one per core from 2,000 peers up without --churn, else 1', 'auto')
    .option('--timeout <s>', 'bound on each waiting step', '600')
    .option('--policy <file...>', 'Policy YAML files for the super-peers (later levels override earlier), as mvm node --policy')
    .option('--queued <n>', 'scheduling at scale instead: queue N jobs across the groups (after a baseline queue), time every scheduling pass, check fair share and cross-group placement')
    .option('--baseline-queued <n>', 'with --queued: jobs queued in all for the baseline measured first', '1000')
    .option('--rank-ms <ms>', 'with --queued: how long each queued job\'s rank takes', '2000')
    .option('--wide <n>', 'with --queued: jobs too wide for their group, submitted to the other groups (cross-group placement)', '10')
    .option('--json', 'print the report as JSON')
    .action(async (o: SimFlags) => {
      const sim = await import('@mvm/sim')
      sim.cheapErrorStacks()
      const groups = int(o.groups, '--groups', 1)
      if (o.fanout !== undefined && o.depth !== undefined) throw new BadRequestError('--fanout and --depth: give one of them')
      const fanout = o.depth !== undefined ? sim.fanoutForDepth(groups, int(o.depth, '--depth', 1)) : int(o.fanout ?? '10', '--fanout', 1)
      let mix
      try { mix = sim.parseMix(o.mix) } catch (e) { throw new BadRequestError((e as Error).message) }
      const policy = o.policy === undefined ? undefined : (await (await import('@mvm/node')).loadNodeSettings(undefined, o.policy.map((f) => resolve(f)))).policy
      const ac = new AbortController()
      const onSignal = (): void => { ac.abort() }
      process.once('SIGINT', onSignal)
      try {
        if (o.queued !== undefined) {
          const peers = int(o.peers, '--peers', 1)
          const report = await sim.runSched({
            groups, fanout, peersPerGroup: Math.max(1, Math.round(peers / groups)), slots: int(o.slots, '--slots', 1),
            queued: int(o.queued, '--queued', 1), baseline: int(o.baselineQueued, '--baseline-queued', 1),
            rankMs: int(o.rankMs, '--rank-ms', 1), wide: int(o.wide, '--wide', 0),
            windowMs: o.window !== undefined ? int(o.window, '--window', 100) : 20_000,
            heartbeatMs: int(o.heartbeatMs, '--heartbeat-ms', 10), missedHeartbeats: int(o.missed, '--missed', 1),
            timeoutMs: int(o.timeout, '--timeout', 1) * 1000,
            signal: ac.signal,
            ...(policy !== undefined ? { policy } : {}),
            log: (l) => { process.stderr.write(`${l}\n`) }
          })
          process.stdout.write(o.json === true ? `${JSON.stringify({ ...report, baseline: { ...report.baseline, samples: report.baseline.samples.slice(0, 2000) }, full: { ...report.full, samples: report.full.samples.slice(0, 2000) } }, null, 2)}\n` : `${sim.formatSched(report).join('\n')}\n`)
          return
        }
        const workers = o.workers === 'auto' ? autoWorkers(int(o.peers, '--peers', 1), Number(o.churn)) : int(o.workers, '--workers', 1)
        if (workers > 1 && Number(o.churn) > 0) throw new BadRequestError('--workers: churn runs in one process only; leave out --workers or --churn')
        const run = workers > 1 ? async (x: Parameters<typeof sim.runSim>[0]) => await sim.runSimSplit({ ...x, workers }) : sim.runSim
        const report = await run({
          peers: int(o.peers, '--peers', 1), groups, fanout,
          heartbeatMs: int(o.heartbeatMs, '--heartbeat-ms', 10), missedHeartbeats: int(o.missed, '--missed', 1),
          slots: int(o.slots, '--slots', 1), jobs: int(o.jobs, '--jobs', 0), mix,
          churnPerMin: Number(o.churn),
          ...(o.window !== undefined ? { windowMs: int(o.window, '--window', 100) } : {}),
          timeoutMs: int(o.timeout, '--timeout', 1) * 1000,
          signal: ac.signal,
          ...(policy !== undefined ? { policy } : {}),
          log: (l) => { process.stderr.write(`${l}\n`) }
        })
        process.stdout.write(o.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${sim.formatReport(report).join('\n')}\n`)
        if (report.jobs !== undefined && report.jobs.succeeded !== report.jobs.submitted) process.exitCode = 2
      } finally {
        process.off('SIGINT', onSignal)
      }
    })
}
