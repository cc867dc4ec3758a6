import type { Command } from 'commander'
import { BadRequestError } from '@mvm/core'
import type { JobRankLog } from '@mvm/soap/client'
import { printJson, wholeNumber } from '../output.js'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'
import { followLogs } from '../follow-logs.js'
import { failureText } from '../wait.js'

interface Opts extends BrokerLocation {
  rank?: string
  stream?: string
  tail?: string
  maxBytes?: string
  json?: boolean
  follow?: boolean
  interval?: string
}

const STREAMS = ['out', 'err'] as const
type Stream = (typeof STREAMS)[number]

/** `mvm logs <job>`: every rank's stdout/stderr, fetched by the broker from the peers that ran it. */
export function register (program: Command): void {
  brokerOptions(program.command('logs')
    .description('print a job\'s per-rank stdout and stderr, each line labelled with its rank')
    .argument('<job>', 'job id')
    .option('--rank <r>', 'only this rank')
    .option('--stream <out|err>', 'only stdout (out) or only stderr (err)')
    .option('--tail <n>', 'only the last n lines of each stream')
    .option('--max-bytes <n>', 'fetch at most the last n bytes of each stream (default 65536, at most 1048576)')
    .option('--json', 'machine-readable output (the broker\'s reply)')
    .option('-f, --follow', 'keep printing the ranks\' output as it comes until the job ends, then exit 0 if it succeeded, 2 if not (as submit --wait)')
    .option('--interval <ms>', 'with --follow: pause between polls of the broker', '500'))
    .action(async (jobId: string, o: Opts) => {
      const rank = o.rank === undefined ? undefined : nonNegativeInt(o.rank, '--rank')
      const tail = o.tail === undefined ? undefined : nonNegativeInt(o.tail, '--tail')
      const maxBytes = o.maxBytes === undefined ? undefined : nonNegativeInt(o.maxBytes, '--max-bytes')
      if (o.stream !== undefined && !(STREAMS as readonly string[]).includes(o.stream)) {
        throw new BadRequestError(`--stream expects out or err, got "${o.stream}"`)
      }
      const streams: Stream[] = o.stream === undefined ? [...STREAMS] : [o.stream as Stream]
      if (o.follow === true) {
        if (o.json === true || maxBytes !== undefined) throw new BadRequestError(`--follow prints every byte as text; it does not take ${o.json === true ? '--json' : '--max-bytes'}`)
        const intervalMs = wholeNumber(o.interval ?? '500', '--interval', 50, 60_000)
        const broker = await findBroker(o)
        const info = await followLogs(broker, jobId, {
          ...(rank !== undefined ? { rank } : {}), ...(tail !== undefined ? { tail } : {}), streams, intervalMs,
          write: (t) => { process.stdout.write(t) }, warn: (t) => { process.stderr.write(t) }
        })
        if (info.state !== 'succeeded') {
          process.stderr.write(failureText(info) + '\n')
          process.exitCode = 2
        }
        return
      }
      const broker = await findBroker(o)
      const { logs } = await broker.GetJobLogs({
        jobId, ...(rank !== undefined ? { rank } : {}), ...(maxBytes !== undefined ? { maxBytes } : {})
      }, { timeoutMs: 60_000 })
      if (o.json === true) { printJson(logs); return }
      for (const l of logs) {
        if (l.error !== undefined) {
          process.stderr.write(`mvm: rank ${l.rank}: ${l.error}\n`)
          process.exitCode = 1
          continue
        }
        if (l.truncated) process.stderr.write(`mvm: rank ${l.rank}: earlier output left out: only the tail of each stream was fetched (see --max-bytes)\n`)
        process.stdout.write(render(l, streams, tail))
      }
    })
}

/** Each line as `[r<rank> out] line` or `[r<rank> err] line`, so merged output stays attributable. */
function render (l: JobRankLog, streams: Stream[], tail: number | undefined): string {
  let out = ''
  for (const s of streams) {
    const label = `[r${l.rank} ${s}] `
    let lines = (s === 'out' ? l.stdout : l.stderr).split('\n')
    if (lines.at(-1) === '') lines.pop()
    if (tail !== undefined) lines = tail === 0 ? [] : lines.slice(-tail)
    for (const line of lines) out += label + line + '\n'
  }
  return out
}

function nonNegativeInt (v: string, flag: string): number {
  if (!/^\d{1,9}$/.test(v.trim())) throw new BadRequestError(`${flag} expects a whole number >= 0, got "${v}"`)
  return Number(v)
}
