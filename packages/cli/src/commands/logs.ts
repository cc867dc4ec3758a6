import type { Command } from 'commander'
import { BadRequestError } from '@mvm/core'
import type { JobRankLog } from '@mvm/soap'
import { printJson } from '../output.js'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'

interface Opts extends BrokerLocation {
  rank?: string
  stream?: string
  tail?: string
  maxBytes?: string
  json?: boolean
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
    .option('--json', 'machine-readable output (the broker\'s reply)'))
    .action(async (jobId: string, o: Opts) => {
      const rank = o.rank === undefined ? undefined : nonNegativeInt(o.rank, '--rank')
      const tail = o.tail === undefined ? undefined : nonNegativeInt(o.tail, '--tail')
      const maxBytes = o.maxBytes === undefined ? undefined : nonNegativeInt(o.maxBytes, '--max-bytes')
      if (o.stream !== undefined && !(STREAMS as readonly string[]).includes(o.stream)) {
        throw new BadRequestError(`--stream expects out or err, got "${o.stream}"`)
      }
      const streams: Stream[] = o.stream === undefined ? [...STREAMS] : [o.stream as Stream]
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
