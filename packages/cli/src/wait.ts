import cliProgress from 'cli-progress'
import { TimeoutError, sleep } from '@mvm/core'
import type { BrokerClient, GetJobResultResponse, JobInfo } from '@mvm/soap'
import { printJson } from './output.js'

const FINAL = new Set(['succeeded', 'failed', 'cancelled'])

export interface Outcome { info: JobInfo, result?: GetJobResultResponse }

/**
 * Follows a job until it ends. Polls GetJob (SOAP has no push) with a short interval; on a
 * terminal it draws ranks started / finished and elapsed time, elsewhere it prints state changes.
 */
export async function waitForJob (broker: BrokerClient, jobId: string, o: { timeoutMs: number, progress: boolean, signal?: AbortSignal }): Promise<Outcome> {
  const deadline = Date.now() + o.timeoutMs
  const tty = o.progress && process.stderr.isTTY
  const bar = tty ? new cliProgress.SingleBar({ format: `${jobId} {state} |{bar}| {value}/{total} ranks done, {started} started, {duration_formatted}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined
  let last = ''
  let info: JobInfo
  try {
    for (;;) {
      info = await broker.GetJob({ jobId }, { timeoutMs: 10_000 })
      if (bar !== undefined) {
        if (last === '') bar.start(info.size, info.ranksFinished, { state: info.state, started: info.ranksStarted })
        bar.update(info.ranksFinished, { state: info.state, started: info.ranksStarted })
      } else if (o.progress && info.state !== last) {
        process.stderr.write(`${jobId}: ${info.state}${info.reason !== undefined ? ` (${info.reason})` : ''}\n`)
      }
      last = info.state
      if (FINAL.has(info.state)) break
      if (Date.now() > deadline) throw new TimeoutError(`job ${jobId} still ${info.state} after ${Math.round(o.timeoutMs / 1000)} s (it keeps running; check with mvm status ${jobId})`)
      await sleep(200, o.signal)
    }
  } finally {
    bar?.stop()
  }
  const result = info.state === 'cancelled' ? undefined : await broker.GetJobResult({ jobId }, { timeoutMs: 10_000 })
  return result === undefined ? { info } : { info, result }
}

/** A result printed for people: a plain value as is, anything else as JSON. */
export function formatResult (resultJson: string | undefined): string {
  if (resultJson === undefined || resultJson === '') return '(no result)'
  try {
    const v = JSON.parse(resultJson) as unknown
    return typeof v === 'object' && v !== null ? JSON.stringify(v, null, 2) : String(v)
  } catch { return resultJson }
}

export function printOutcome (o: Outcome, json: boolean): void {
  if (json) { printJson({ job: o.info, result: o.result }); return }
  if (o.info.state === 'succeeded') {
    process.stdout.write(formatResult(o.result?.resultJson) + '\n')
  } else {
    const firstError = o.result?.ranks.find((r) => r.error !== undefined && r.error !== '')
    process.stderr.write(`job ${o.info.jobId} ${o.info.state}${o.info.reason !== undefined ? `: ${o.info.reason}` : ''}${firstError !== undefined ? `\n  rank ${firstError.rank}: ${firstError.error ?? ''}` : ''}\n`)
  }
}
