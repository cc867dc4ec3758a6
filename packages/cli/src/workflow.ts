import { readFile, rename, rm, writeFile } from 'node:fs/promises'
import { BadRequestError, InvalidStateError, NotFoundError } from '@mvm/core'
import type { LoadedWorkflow, WorkflowStep } from '@mvm/model'
import type { BrokerClient, DataInput } from '@mvm/soap/client'
import { profileRequest } from './profile-request.js'
import { uploadInputs } from './data-transfer.js'
import { waitForJob, type Outcome } from './wait.js'

/**
 * Where a step stands. `skipped`: a step it comes after failed (or was skipped), so it never
 * ran, as DAGMan leaves the descendants of a failed node.
 */
export type StepState = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped'

export interface StepRecord {
  state: StepState
  /** The job of its latest attempt. */
  jobId?: string
  attempts: number
  /** Its job's result (JSON text), once it succeeded. */
  resultJson?: string
  reason?: string
}

/** The rescue file: enough to resume the DAG where it stopped (DAGMan's rescue DAG). */
export interface RescueRecord { workflow: string, name: string, updatedAt: string, steps: Record<string, StepRecord> }

export interface WorkflowRun {
  broker: BrokerClient
  owner: string
  /** Steps recorded in an earlier run: succeeded ones are not run again, a running one is followed. */
  rescue?: RescueRecord
  /** Written after every change, removed when every step succeeded. */
  rescueFile: string
  timeoutMs: number
  signal?: AbortSignal
  /** Told of every change, for progress lines. */
  onStep?: (name: string, r: StepRecord) => void
}

export async function readRescue (file: string, wf: LoadedWorkflow): Promise<RescueRecord> {
  let text: string
  try { text = await readFile(file, 'utf8') } catch { throw new NotFoundError(`--rescue: no rescue file ${file} (a failed or interrupted \`mvm submit ${wf.file}\` writes it)`) }
  let r: RescueRecord
  try { r = JSON.parse(text) as RescueRecord } catch (err) { throw new BadRequestError(`--rescue: ${file} is not JSON: ${(err as Error).message}`) }
  if (r === null || typeof r !== 'object' || typeof r.steps !== 'object' || r.steps === null) throw new BadRequestError(`--rescue: ${file} is not a rescue file (no steps)`)
  const unknown = Object.keys(r.steps).filter((n) => !wf.steps.some((s) => s.name === n))
  if (unknown.length > 0) throw new BadRequestError(`--rescue: ${file} names steps the workflow does not have: ${unknown.join(', ')} (was the workflow changed?)`)
  return r
}

/** The value at `path` in a step's result, as a profile parameter's text. */
function resultParam (resultJson: string | undefined, path: string[], where: string): string {
  let v: unknown = resultJson === undefined ? null : JSON.parse(resultJson)
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !(k in v)) throw new BadRequestError(`${where}: the result has no field ${path.join('.')} (it is ${resultJson ?? 'empty'})`)
    v = (v as Record<string, unknown>)[k]
  }
  return typeof v === 'string' ? v : JSON.stringify(v)
}

/** A step's inputs taken from its parents' outputs (stored by the broker when those succeeded). */
async function stepOutputs (broker: BrokerClient, s: WorkflowStep, steps: Record<string, StepRecord>): Promise<DataInput[]> {
  const out: DataInput[] = []
  for (const x of s.outputInputs) {
    const jobId = steps[x.step]?.jobId
    if (jobId === undefined) throw new InvalidStateError(`step ${s.name}: step ${x.step} has no job to take ${x.output} from`)
    const outputs = (await broker.GetJobResult({ jobId })).outputs ?? []
    const f = outputs.find((o) => o.name === x.output)
    if (f === undefined) throw new NotFoundError(`step ${s.name}: step ${x.step} (job ${jobId}) has no output ${x.output}; its outputs: ${outputs.map((o) => o.name).join(', ') || 'none'}`)
    out.push({ name: x.name, id: f.id })
  }
  return out
}

/**
 * Runs a workflow's DAG from this process, as condor_dagman does for its DAG: a step's job is
 * submitted once every step it comes after succeeded, with params taken from their results; a
 * failed step runs again up to `retries` times, then fails and its descendants are skipped while
 * the other branches go on. Progress goes to the rescue file after each change, so an
 * interrupted or failed run resumes with `--rescue`.
 */
export async function runWorkflow (wf: LoadedWorkflow, run: WorkflowRun): Promise<Record<string, StepRecord>> {
  const steps: Record<string, StepRecord> = {}
  for (const s of wf.steps) {
    const before = run.rescue?.steps[s.name]
    // a failed or skipped step gets a fresh set of attempts in a rescue run
    steps[s.name] = before?.state === 'succeeded' ? { ...before } : before?.state === 'running' && before.jobId !== undefined ? { ...before } : { state: 'pending', attempts: 0 }
  }
  let saving = Promise.resolve()
  const save = async (): Promise<void> => {
    const record: RescueRecord = { workflow: wf.file, name: wf.metadata.name, updatedAt: new Date().toISOString(), steps }
    const text = JSON.stringify(record, null, 2) + '\n'
    saving = saving.then(async () => {
      await writeFile(run.rescueFile + '.tmp', text)
      await rename(run.rescueFile + '.tmp', run.rescueFile)
    })
    await saving
  }
  const change = async (name: string, r: Partial<StepRecord>): Promise<void> => {
    Object.assign(steps[name]!, r)
    run.onStep?.(name, steps[name]!)
    await save()
  }
  const limit = wf.spec.maxParallel ?? Infinity
  const live = new Map<string, Promise<void>>()

  const follow = async (s: WorkflowStep, jobId: string): Promise<Outcome> => await waitForJob(run.broker, jobId, { timeoutMs: run.timeoutMs, progress: false, ...(run.signal !== undefined ? { signal: run.signal } : {}) })
  const attempt = async (s: WorkflowStep): Promise<void> => {
    const rec = steps[s.name]!
    for (;;) {
      let jobId = rec.state === 'running' ? rec.jobId : undefined
      if (jobId === undefined) {
        const params = { ...s.params }
        for (const [p, src] of Object.entries(s.resultParams)) params[p] = resultParam(steps[src.step]!.resultJson, src.path, `step ${s.name}: resultParams.${p}`)
        const { request, profile } = await profileRequest(s.profileFile, { params, owner: run.owner })
        const inputs = [...await uploadInputs(profile, run.broker.url, { quiet: true, authorization: run.broker.httpAuthorization }), ...await stepOutputs(run.broker, s, steps)]
        if (inputs.length > 0) request.inputs = inputs
        jobId = (await run.broker.SubmitJob(request, { timeoutMs: 60_000 })).jobId
        await change(s.name, { state: 'running', jobId, attempts: rec.attempts + 1 })
      }
      let out: Outcome | undefined
      try { out = await follow(s, jobId) } catch (err) {
        // a job the broker no longer knows (pruned, another lab) is run again
        if (!(err instanceof NotFoundError) && (err as { code?: string }).code !== 'E_NOT_FOUND') throw err
      }
      if (out?.info.state === 'succeeded') {
        await change(s.name, { state: 'succeeded', ...(out.result?.resultJson !== undefined ? { resultJson: out.result.resultJson } : {}) })
        return
      }
      const reason = out === undefined ? `job ${jobId} is gone` : `job ${jobId} ${out.info.state}${out.info.reason !== undefined ? `: ${out.info.reason}` : ''}`
      if (rec.attempts > s.retries) { await change(s.name, { state: 'failed', reason }); return }
      await change(s.name, { state: 'pending', reason: `${reason}; retrying (${rec.attempts} of ${s.retries + 1} attempts used)` })
    }
  }

  await save()
  for (;;) {
    run.signal?.throwIfAborted()
    for (const s of wf.steps) {
      const r = steps[s.name]!
      if (r.state !== 'pending' && r.state !== 'running') continue
      if (live.has(s.name)) continue
      const parents = s.after.map((d) => steps[d]!.state)
      if (parents.some((p) => p === 'failed' || p === 'skipped')) {
        await change(s.name, { state: 'skipped', reason: `after ${s.after.filter((d) => steps[d]!.state === 'failed' || steps[d]!.state === 'skipped').join(', ')}, which did not succeed` })
        continue
      }
      if (!parents.every((p) => p === 'succeeded')) continue
      if (live.size >= limit) break
      live.set(s.name, attempt(s).catch(async (err: unknown) => {
        await change(s.name, { state: 'failed', reason: (err as Error).message })
      }).finally(() => { live.delete(s.name) }))
    }
    if (live.size === 0) break
    await Promise.race(live.values())
  }
  await saving
  if (Object.values(steps).every((r) => r.state === 'succeeded')) await rm(run.rescueFile, { force: true })
  return steps
}
