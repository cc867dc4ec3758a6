import type { Command } from 'commander'
import { BadRequestError, JobState, nodeLabel } from '@mvm/core'
import type { BrokerClient, JobAccounting, ListHistoryRequest } from '@mvm/soap/client'
import { formatTable, printJson, wholeNumber } from '../output.js'
import { brokerOptions, currentUser, findBroker, type BrokerLocation } from '../remote.js'

interface Opts extends BrokerLocation {
  owner?: string
  mine?: boolean
  state?: string
  name?: string
  since?: string
  until?: string
  limit: string
  ranks?: boolean
  json?: boolean
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * A point in time for --since/--until: an ISO date or date-time (`2026-12-01`, `2026-12-01T09:00Z`),
 * or an age counted back from now (`90m`, `12h`, `7d`), as sacct's `now-7days`.
 */
export function parseWhen (v: string, flag: string, now = Date.now()): string {
  const age = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(v.trim())
  if (age !== null) return new Date(now - Number(age[1]) * UNITS[age[2]!]!).toISOString()
  const ms = Date.parse(v)
  if (Number.isNaN(ms)) throw new BadRequestError(`${flag}: "${v}" is neither a date (2026-12-01, 2026-12-01T09:00:00Z) nor an age (90m, 12h, 7d)`)
  return new Date(ms).toISOString()
}

const secs = (s: number): string => {
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)}s`
  const h = Math.floor(s / 3600); const m = Math.floor((s % 3600) / 60); const r = Math.round(s % 60)
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`
}
const mb = (n: number): string => n > 0 ? `${n.toFixed(n < 10 ? 1 : 0)}M` : '-'
const when = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')

/** `mvm history`: finished jobs and what they cost (sacct). */
export function register (program: Command): void {
  brokerOptions(program.command('history')
    .description('finished jobs with their accounting (wait, wall and CPU time, peak memory), newest first, like sacct')
    .option('--owner <name>', 'only this owner\'s jobs')
    .option('--mine', 'only the jobs of the user this command acts for (--user)')
    .option('--state <state>', 'only jobs that ended so (succeeded, failed, cancelled)')
    .option('--name <name>', 'only jobs of this profile name')
    .option('--since <when>', 'ended at or after: a date (2026-12-01, 2026-12-01T09:00Z) or an age (90m, 12h, 7d)')
    .option('--until <when>', 'ended before: a date or an age')
    .option('--limit <n>', 'at most this many', '50')
    .option('--ranks', 'one line per rank too: node, exit reason, wall, CPU and peak memory')
    .option('--json', 'machine-readable output'))
    .action(async (o: Opts) => {
      const req: ListHistoryRequest = { limit: wholeNumber(o.limit, '--limit', 1, 10_000) }
      if (o.owner !== undefined && o.mine === true) throw new BadRequestError('--owner and --mine: give one of them')
      const owner = o.mine === true ? currentUser(o) : o.owner
      if (owner !== undefined) req.owner = owner
      if (o.state !== undefined) {
        const states = Object.values(JobState) as string[]
        if (!states.includes(o.state)) throw new BadRequestError(`--state: "${o.state}" is not one of ${states.join(', ')}`)
        req.state = o.state as JobState
      }
      if (o.name !== undefined) req.name = o.name
      if (o.since !== undefined) req.since = parseWhen(o.since, '--since')
      if (o.until !== undefined) req.until = parseWhen(o.until, '--until')
      const broker = await findBroker(o)
      const { jobs } = await broker.ListHistory(req)
      if (o.json === true) { printJson(jobs); return }
      if (jobs.length === 0) { process.stderr.write('no finished job matches\n'); return }
      process.stdout.write(o.ranks === true ? await rankTable(broker, jobs) : jobTable(jobs))
    })
}

function jobTable (jobs: JobAccounting[]): string {
  return formatTable(
    ['JOB', 'NAME', 'OWNER', 'STATE', 'ENDED', 'RANKS', 'WAIT', 'WALL', 'CPU', 'MAXRSS', 'REASON'],
    jobs.map((j) => [j.jobId, j.name, j.owner, j.state, when(j.finishedAt), String(j.size), secs(j.queuedSec), secs(j.wallSec), secs(j.cpuSec), mb(j.maxRssMB), j.reason ?? ''])
  )
}

async function rankTable (broker: BrokerClient, jobs: JobAccounting[]): Promise<string> {
  let names = new Map<string, Record<string, string>>()
  try { names = new Map((await broker.ListNodes({}, { timeoutMs: 10_000 })).nodes.map((n) => [n.peerId, n.labels])) } catch { /* ids then */ }
  const rows: string[][] = []
  for (const j of jobs) {
    rows.push([j.jobId, j.name, j.state, '', '', secs(j.wallSec), secs(j.cpuSec), mb(j.maxRssMB), j.reason ?? ''])
    for (const r of j.ranks) {
      const wall = (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000
      rows.push([`  .${r.rank}`, '', `exit ${r.exitCode}`, r.peerId === '' ? '-' : nodeLabel(r.peerId, names.get(r.peerId)), r.exitReason ?? '', secs(Math.max(0, wall)), r.cpuSec === undefined ? '-' : secs(r.cpuSec), mb(r.maxRssMB ?? 0), r.error ?? ''])
    }
  }
  return formatTable(['JOB', 'NAME', 'STATE', 'NODE', 'ENDED BY', 'WALL', 'CPU', 'MAXRSS', 'REASON'], rows)
}
