import type { Command } from 'commander'
import { resolve } from 'node:path'
import { BadRequestError } from '@mvm/core'

interface SimFlags {
  peers: string, groups: string, jobs: string, fanout?: string, depth?: string, heartbeatMs: string, missed: string,
  slots: string, churn: string, mix: string, window?: string, timeout: string, json?: boolean, policy?: string[]
}

function int (v: string, flag: string, min: number): number {
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new BadRequestError(`${flag}: expected an integer >= ${min}, got "${v}"`)
  return n
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
    .option('--timeout <s>', 'bound on each waiting step', '600')
    .option('--policy <file...>', 'Policy YAML files for the super-peers (later levels override earlier), as mvm node --policy')
    .option('--json', 'print the report as JSON')
    .action(async (o: SimFlags) => {
      const sim = await import('@mvm/sim')
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
        const report = await sim.runSim({
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
