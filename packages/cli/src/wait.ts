import { cliProgress } from './progress-bar.js'
import { TimeoutError, sleep } from '@mvm/core'
import { WAIT_MAX_MS, type BrokerClient, type GetJobResultResponse, type JobInfo, type RankResult } from '@mvm/soap/client'
import { printJson } from './output.js'
import { formatResult } from './result-text.js'

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
  // MVM_PROGRESS=1 draws the bar even without a terminal (recorded sessions, tests); 0 never does
  const forced = process.env.MVM_PROGRESS === '1'
  const tty = o.progress && process.env.MVM_PROGRESS !== '0' && (forced || process.stderr.isTTY)
  // the bar fills as ranks start and again as they finish: it moves from the first rank on
  const bar = tty ? new (cliProgress().SingleBar)({ format: `${jobId} |{bar}| {line}`, stream: process.stderr, hideCursor: true, noTTYOutput: forced, notTTYSchedule: 200 }, cliProgress().Presets.shades_classic) : undefined
  const t0 = Date.now()
  let last = ''
  let lastLine = ''
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
      const line = progressLine(info, Date.now() - t0)
      if (bar !== undefined) {
        const value = info.ranksStarted + info.ranksFinished
        if (last === '') bar.start(2 * info.size, value, { line })
        bar.update(value, { line })
      } else if (o.progress && line.replace(/ · \d+ s$/, '') !== lastLine) {
        // not a terminal: one line per change of state or rank counts, not one per poll
        process.stderr.write(`${info.jobId}: ${line}\n`)
        lastLine = line.replace(/ · \d+ s$/, '')
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

export { formatResult }

/** How a job in progress reads: `running 3/4 ranks, 1 done · 12 s` (started counts, not only finished). */
export function progressLine (info: JobInfo, elapsedMs: number): string {
  const running = Math.max(0, info.ranksStarted - info.ranksFinished)
  const secs = `${Math.floor(elapsedMs / 1000)} s`
  if (info.state === 'queued' || info.state === 'scheduled') return `${info.state}${info.reason !== undefined ? ` (${info.reason})` : ''} · ${secs}`
  if (FINAL.has(info.state)) return `${info.state}${info.reason !== undefined ? ` (${info.reason})` : ''} · ${secs}`
  return `${info.state} ${running}/${info.size} ranks, ${info.ranksFinished} done · ${secs}`
}

export interface PrintOptions { json: boolean, full?: boolean }

export function printOutcome (o: Outcome, opts: PrintOptions | boolean): void {
  const p = typeof opts === 'boolean' ? { json: opts } : opts
  if (p.json) { printJson({ job: o.info, result: o.result }); return }
  if (o.info.state === 'succeeded') {
    process.stdout.write(formatResult(o.result?.resultJson, { full: p.full === true }) + '\n')
  } else {
    process.stderr.write(failureText(o.info, o.result?.ranks) + '\n')
  }
}

/** A job that did not succeed, in a sentence; the first failed rank's error only when the reason lacks it. */
export function failureText (job: { jobId: string, state: string, reason?: string | undefined }, ranks: readonly RankResult[] = []): string {
  const reason = job.reason
  const firstError = ranks.find((r) => r.error !== undefined && r.error !== '')
  const extra = firstError !== undefined && (reason === undefined || !reason.includes(firstError.error!)) ? `\n  rank ${firstError.rank}: ${firstError.error ?? ''}` : ''
  return `job ${job.jobId} ${job.state}${reason !== undefined ? `: ${reason}` : ''}${extra}`
}
