import cliProgress from 'cli-progress'
import { TimeoutError, sleep } from '@mvm/core'
import { WAIT_MAX_MS, type BrokerClient, type GetJobResultResponse, type JobInfo } from '@mvm/soap'
import { printJson } from './output.js'

// held: nothing more happens until someone runs `mvm release`, so waiting longer would hang
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'held'])

export interface Outcome { info: JobInfo, result?: GetJobResultResponse }

/** How long one WaitJob may block while a progress display wants fresh figures. */
const PROGRESS_WAIT_MS = 1000

/**
 * Follows a job until it ends with WaitJob long polls (the broker answers when the job ends,
 * so the result is seen at once, without polling); with progress shown, each wait is short
 * so ranks started / finished stay fresh. A broker without WaitJob is polled with GetJob.
 */
export async function waitForJob (broker: BrokerClient, jobId: string, o: { timeoutMs: number, progress: boolean, signal?: AbortSignal }): Promise<Outcome> {
  const deadline = Date.now() + o.timeoutMs
  const tty = o.progress && process.stderr.isTTY
  const bar = tty ? new cliProgress.SingleBar({ format: `${jobId} {state} |{bar}| {value}/{total} ranks done, {started} started, {duration_formatted}`, stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined
  let last = ''
  let info: JobInfo
  let longPoll = true
  const signal = o.signal
  try {
    for (let first = true; ; first = false) {
      const left = Math.max(0, deadline - Date.now())
      const wait = first ? 0 : Math.min(o.progress ? PROGRESS_WAIT_MS : WAIT_MAX_MS, left)
      info = await next(broker, jobId, wait, longPoll, signal).catch(async (err: unknown) => {
        // an older broker: no WaitJob, fall back to polling
        if (!longPoll || !notServed(err)) throw err
        longPoll = false
        return await next(broker, jobId, wait, false, signal)
      })
      if (bar !== undefined) {
        if (last === '') bar.start(info.size, info.ranksFinished, { state: info.state, started: info.ranksStarted })
        bar.update(info.ranksFinished, { state: info.state, started: info.ranksStarted })
      } else if (o.progress && info.state !== last) {
        process.stderr.write(`${jobId}: ${info.state}${info.reason !== undefined ? ` (${info.reason})` : ''}\n`)
      }
      last = info.state
      if (FINAL.has(info.state)) break
      if (Date.now() >= deadline) throw new TimeoutError(`job ${jobId} still ${info.state} after ${Math.round(o.timeoutMs / 1000)} s (it keeps running; check with mvm status ${jobId})`)
    }
  } finally {
    bar?.stop()
  }
  const result = info.state === 'cancelled' ? undefined : await broker.GetJobResult({ jobId }, { timeoutMs: 10_000 })
  return result === undefined ? { info } : { info, result }
}

async function next (broker: BrokerClient, jobId: string, waitMs: number, longPoll: boolean, signal: AbortSignal | undefined): Promise<JobInfo> {
  const opts = signal !== undefined ? { signal } : {}
  if (longPoll) return await broker.WaitJob({ jobId, timeoutMs: waitMs }, opts)
  if (waitMs > 0) await sleep(Math.min(waitMs, 200), signal)
  return await broker.GetJob({ jobId }, { ...opts, timeoutMs: 10_000 })
}

/** What a broker from before WaitJob answers: the operation is unknown to it. */
function notServed (err: unknown): boolean {
  const e = err as { code?: string, message?: string }
  return (e.code === 'E_BAD_REQUEST' && /has no operation "WaitJob"/.test(e.message ?? '')) || (e.code === 'E_UNAVAILABLE' && /WaitJob is not served/.test(e.message ?? ''))
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
