import type { Command } from 'commander'
import { BadRequestError, ErrorCode, InvalidStateError, JobState, nodeLabel, sleep, toMvmError } from '@mvm/core'
import type { BrokerClient, GetJobResultResponse, JobInfo } from '@mvm/soap/client'
import { formatTable, printJson, wholeNumber } from '../output.js'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'
import { formatValue } from '../result-text.js'
import { failureText, formatResult, waitForJob, printOutcome, type Outcome } from '../wait.js'
import { sweepTable, type ArrayElement } from '../sweep.js'

interface Opts extends BrokerLocation { json?: boolean }

/** `mvm jobs`, `mvm status`, `mvm result`, `mvm cancel`, `mvm hold`/`release`/`requeue`: the Broker service from the shell. */
export function register (program: Command): void {
  brokerOptions(program.command('jobs')
    .description('list the broker\'s jobs, newest first')
    .option('--state <state>', 'only jobs in this state (queued, scheduled, running, succeeded, failed, cancelled, held)')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'machine-readable output')
    .option('--watch', 'redraw the table every --interval seconds until Ctrl-C (as watch squeue)')
    .option('--interval <sec>', 'with --watch: seconds between redraws (decimals allowed)', '2')
    .option('--count <n>', 'with --watch: stop after n tables (for scripts)'))
    .action(async (o: Opts & { state?: string, limit: string, watch?: boolean, interval: string, count?: string }) => {
      const limit = wholeNumber(o.limit, '--limit', 1, 10_000)
      const states = Object.values(JobState) as string[]
      if (o.state !== undefined && !states.includes(o.state)) throw new BadRequestError(`--state: "${o.state}" is not one of ${states.join(', ')}`)
      const intervalMs = seconds(o.interval, '--interval') * 1000
      const count = o.count === undefined ? Infinity : wholeNumber(o.count, '--count', 1)
      if (o.watch !== true && o.count !== undefined) throw new BadRequestError('--count goes with --watch')
      const broker = await findBroker(o)
      const req = o.state === undefined ? { limit } : { state: o.state as JobState, limit }
      if (o.watch !== true) {
        const { jobs } = await broker.ListJobs(req)
        if (o.json === true) { printJson(jobs); return }
        process.stdout.write(table(jobs))
        return
      }
      // on a terminal the table is redrawn in place; piped, each table follows the last
      const tty = process.stdout.isTTY
      for (let i = 0; i < count; i++) {
        if (i > 0) await sleep(intervalMs)
        const { jobs } = await broker.ListJobs(req)
        const body = o.json === true ? JSON.stringify(jobs) + '\n' : `every ${o.interval} s  ${new Date().toISOString().replace('T', ' ').slice(0, 19)}\n` + table(jobs)
        process.stdout.write(tty && o.json !== true ? '\x1b[H\x1b[2J' + body : (i > 0 && o.json !== true ? '\n' : '') + body)
      }
    })

  brokerOptions(program.command('status')
    .description('show one job: state, placement, timings')
    .argument('<job>', JOB_ARG)
    .option('--json', 'machine-readable output'))
    .action(async (jobId: string, o: Opts) => {
      const broker = await findBroker(o)
      const info = await broker.GetJob({ jobId })
      if (o.json === true) { printJson(info); return }
      const names = info.placement.length > 0 ? await nodeNames(broker) : new Map<string, Record<string, string>>()
      const lines = [
        `job        ${info.jobId}${info.parentId !== undefined ? ` (element of ${info.parentId})` : ''}`,
        `name       ${info.name}`,
        // a job this broker passed on to another group runs there
        ...(info.group !== undefined ? [`group      ${info.group} (passed on: this group could not run it)`] : []),
        `state      ${info.state}${info.reason !== undefined ? ` — ${info.reason}` : ''}`,
        // a held job's wait reason is its reason, already on the state line
        ...(info.waitReason !== undefined && info.waitReason !== info.reason ? [`waiting    ${info.waitReason}`] : []),
        `owner      ${info.owner}    priority ${info.priority}    ranks ${info.size} (${info.ranksStarted} started, ${info.ranksFinished} finished)`,
        `submitted  ${info.submittedAt}`,
        ...(info.startedAt !== undefined ? [`started    ${info.startedAt}`] : []),
        ...(info.finishedAt !== undefined ? [`finished   ${info.finishedAt}`] : []),
        ...(info.placement.length > 0 ? ['placement  ' + info.placement.map((p) => `${p.rank}→${nodeLabel(p.peerId, names.get(p.peerId))}`).join(' ')] : [])
      ]
      process.stdout.write(lines.join('\n') + '\n')
    })

  brokerOptions(program.command('result')
    .description('print a finished job\'s result (rank results with --json)')
    .argument('<job>', JOB_ARG)
    .option('-w, --wait', 'wait for the job to finish first')
    .option('--full', 'print a long result whole (it is cut by default)')
    .option('-o, --output <dir>', 'also download the job\'s output files (the profile\'s outputs) into this folder')
    .option('--json', 'machine-readable output'))
    .action(async (jobArg: string, o: Opts & { wait?: boolean, full?: boolean, output?: string }) => {
      const broker = await findBroker(o)
      const full = o.full === true
      const fetchOutputs = async (jobId: string): Promise<void> => {
        if (o.output === undefined) return
        const outputs = (await broker.GetJobResult({ jobId })).outputs ?? []
        if (outputs.length === 0) { process.stderr.write(`job ${jobId} has no output files (its profile lists no outputs)\n`); return }
        // loaded here: it checks output names with @mvm/model, which the other job commands never load
        const { downloadOutputs } = await import('../data-transfer.js')
        const files = await downloadOutputs(outputs, broker.url, o.output, { quiet: o.json === true, authorization: broker.httpAuthorization })
        if (o.json !== true) process.stderr.write(`${files.length} output file${files.length === 1 ? '' : 's'} in ${o.output}: ${outputs.map((f) => f.name).join(', ')}\n`)
      }
      if (o.wait === true) {
        const outcome = await waitForJob(broker, jobArg, { timeoutMs: 3600_000, progress: o.json !== true })
        printOutcome(outcome, { json: o.json === true, full })
        if (outcome.info.state !== 'succeeded') { process.exitCode = 2; return }
        await fetchOutputs(outcome.info.jobId)
        return
      }
      const r = await broker.GetJobResult({ jobId: jobArg })
      // the broker takes a unique prefix: messages name the job by its full id
      const jobId = r.jobId
      if (o.json === true) { await fetchOutputs(jobId); printJson(r); return }
      if (r.state === 'cancelled') { process.stderr.write(`job ${jobId} was cancelled${r.reason !== undefined ? ` (${r.reason})` : ''}; it has no result\n`); process.exitCode = 2; return }
      if (r.state !== 'succeeded' && r.state !== 'failed') throw new InvalidStateError(`job ${jobId} is ${r.state}; it has no result yet (use --wait)`)
      if (r.state === 'failed') { process.stderr.write(failureText({ jobId, state: r.state, reason: r.reason }, r.ranks) + '\n'); process.exitCode = 2; return }
      process.stdout.write(await arrayTable(broker, r, full) ?? arrayResult(r, full) ?? formatResult(r.resultJson, { full }) + '\n')
      if (o.output !== undefined) await fetchOutputs(jobId)
      else if ((r.outputs ?? []).length > 0) process.stderr.write(`outputs: ${r.outputs!.map((f) => `${f.name} (${f.size} B)`).join(', ')}; fetch them with --output DIR\n`)
    })

  brokerOptions(program.command('cancel')
    .description('cancel a queued or running job (all its ranks are stopped); cancelling a cancelled job is a no-op, a finished one exits 1')
    .argument('<job>', JOB_ARG))
    .action(async (jobId: string, o: Opts) => {
      const broker = await findBroker(o)
      await changeState(async () => await broker.CancelJob({ jobId }))
    })

  brokerOptions(program.command('release')
    .description('queue a held job again: one held with `mvm hold`, or one the broker held because its runs took nodes down or failed the same way repeatedly (mvm status shows why)')
    .argument('<job>', JOB_ARG))
    .action(async (jobId: string, o: Opts) => {
      const broker = await findBroker(o)
      await changeState(async () => await broker.ReleaseJob({ jobId }))
    })

  brokerOptions(program.command('hold')
    .description('keep a queued job from starting until `mvm release` (holding a held job is a no-op; any other state exits 1)')
    .argument('<job>', JOB_ARG))
    .action(async (jobId: string, o: Opts) => {
      const broker = await findBroker(o)
      await changeState(async () => await broker.HoldJob({ jobId }))
    })

  brokerOptions(program.command('checkpoint')
    .description('take a consistent cut of a running job whose profile says checkpoint.mode: coordinated (every rank\'s state and the messages in flight), at its next checkpoint point; any other job exits 1')
    .argument('<job>', JOB_ARG))
    .action(async (jobId: string, o: Opts) => {
      const broker = await findBroker(o)
      await changeState(async () => await broker.CheckpointJob({ jobId }))
    })

  brokerOptions(program.command('requeue')
    .description('run a job again from the start: a scheduled or running job is stopped first; a succeeded, failed or cancelled one is queued again (a queued or held job exits 1)')
    .argument('<job>', JOB_ARG))
    .action(async (jobId: string, o: Opts) => {
      const broker = await findBroker(o)
      await changeState(async () => await broker.RequeueJob({ jobId }))
    })
}

/** A flag's value in seconds, decimals allowed: 0.1 to 3600. */
function seconds (v: string, flag: string): number {
  const n = /^\s*\d{1,4}(\.\d{1,3})?\s*$/.test(v) ? Number(v) : NaN
  if (!(n >= 0.1 && n <= 3600)) throw new BadRequestError(`${flag} expects seconds from 0.1 to 3600, got "${v}"`)
  return n
}

const JOB_ARG = 'job id, or a unique prefix of one (j-0mx7s9q…, or the start of its random part)'

/**
 * The nodes' labels (for their names) as the broker last saw them. Best effort: a placement
 * with short ids beats no status at all when the node list cannot be read.
 */
async function nodeNames (broker: BrokerClient): Promise<Map<string, Record<string, string>>> {
  try {
    const { nodes } = await broker.ListNodes({}, { timeoutMs: 10_000 })
    return new Map(nodes.map((n) => [n.peerId, n.labels]))
  } catch {
    return new Map()
  }
}

/**
 * An array parent's elements as the sweep table `submit --wait` prints: one row per element,
 * labelled by the values the array gave it (the broker keeps them). Undefined for any other job,
 * or for a broker too old to list an array's elements.
 */
async function arrayTable (broker: BrokerClient, r: GetJobResultResponse, full: boolean): Promise<string | undefined> {
  if (r.ranks.length > 0) return undefined
  const parent = await broker.GetJob({ jobId: r.jobId })
  const ids = parent.childJobIds ?? []
  if (ids.length === 0) return undefined
  // the parent is finished, so are its elements: this answers at once
  const { jobs } = await broker.WaitJobs({ jobIds: ids, timeoutMs: 0 })
  const outcomes: Outcome[] = []
  for (const info of jobs) outcomes.push({ info, ...(info.state === 'succeeded' ? { result: await broker.GetJobResult({ jobId: info.jobId }) } : {}) })
  const elements: ArrayElement[] = jobs.map((j) => ({ values: (j.params ?? []).map((p): [string, unknown] => [p.name, p.value]) }))
  return sweepTable(elements, outcomes, full)
}

/** An array job's result (one value per element) as `[i] value` lines; undefined for any other result. */
function arrayResult (r: GetJobResultResponse, full: boolean): string | undefined {
  // an array parent has no ranks of its own; its value lists its elements' results in order
  if (full || r.ranks.length > 0 || r.resultJson === undefined) return undefined
  let v: unknown
  try { v = JSON.parse(r.resultJson) } catch { return undefined }
  if (!Array.isArray(v)) return undefined
  return v.map((x, i) => `[${i}] ${formatValue(x, { oneLine: true })}`).join('\n') + '\n'
}

function table (jobs: JobInfo[]): string {
  // a GROUP column when some job was passed on to another group (it runs there)
  const groups = jobs.some((j) => j.group !== undefined)
  const rows = jobs.map((j) => [
    j.jobId, j.name, j.state, `${j.ranksFinished}/${j.size}`, String(j.priority), j.owner, j.submittedAt.replace('T', ' ').slice(0, 19), j.waitReason ?? (j.group !== undefined ? j.reason ?? '' : '')
  ])
  if (!groups) return formatTable(['JOB', 'NAME', 'STATE', 'RANKS', 'PRIO', 'OWNER', 'SUBMITTED', 'REASON'], rows)
  return formatTable(['JOB', 'NAME', 'STATE', 'GROUP', 'RANKS', 'PRIO', 'OWNER', 'SUBMITTED', 'REASON'], rows.map((r, i) => [...r.slice(0, 3), jobs[i]!.group ?? '', ...r.slice(3)]))
}

/**
 * Cancel and release print `id state`; a job in the wrong state for it (finished, not held) is a
 * plain sentence and exit 1, as scancel does for a completed job.
 */
async function changeState (call: () => Promise<{ jobId: string, state: string }>): Promise<void> {
  try {
    const info = await call()
    process.stdout.write(`${info.jobId} ${info.state}\n`)
  } catch (err) {
    const e = toMvmError(err)
    if (e.code !== ErrorCode.INVALID_STATE) throw err
    process.stderr.write(`${e.message}\n`)
    process.exitCode = 1
  }
}
