import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { JobFailedError, TimeoutError } from '@mvm/core'
import { WAIT_MAX_MS, type BrokerClient, type GetJobResultResponse, type SubmitJobRequest } from '@mvm/soap'
import { programsDir } from '../paths.js'

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled'])

/** A bench profile and its program, read from packages/bench/programs, ready for SubmitJob. */
export async function benchJob (profile: string, params: Record<string, string | number> = {}, edit?: (yaml: string) => string): Promise<SubmitJobRequest> {
  const yaml = await readFile(join(programsDir, `${profile}.yaml`), 'utf8')
  const program = /^\s*program:\s*(\S+)\s*$/m.exec(yaml)?.[1]
  const bundle = program === undefined ? [] : [{ path: program, content: await readFile(join(programsDir, program)) }]
  return {
    profileYaml: edit === undefined ? yaml : edit(yaml),
    profileName: `${profile}.yaml`,
    params: Object.entries(params).map(([name, value]) => ({ name, value: String(value) })),
    bundle,
    owner: 'bench'
  }
}

/** Submits, waits for a terminal state, returns the result; a failed job throws with its reason. */
export async function runJob (broker: BrokerClient, req: SubmitJobRequest, signal: AbortSignal, timeoutMs = 600_000): Promise<GetJobResultResponse> {
  const { jobId } = await broker.SubmitJob(req, { signal, timeoutMs: 30_000 })
  return await waitJob(broker, jobId, signal, timeoutMs)
}

/**
 * Waits with WaitJob (the broker answers the moment the job ends, so submit → result is seen
 * exactly and no poll traffic competes with the jobs), then fetches the result.
 */
export async function waitJob (broker: BrokerClient, jobId: string, signal: AbortSignal, timeoutMs = 600_000): Promise<GetJobResultResponse> {
  const deadline = Date.now() + timeoutMs
  for (let i = 0; i < 100_000; i++) {
    const left = deadline - Date.now()
    if (left <= 0) break
    const info = await broker.WaitJob({ jobId, timeoutMs: Math.min(left, WAIT_MAX_MS) }, { signal })
    if (TERMINAL.has(info.state)) return await resultOf(broker, jobId, info.reason, signal)
  }
  throw new TimeoutError(`job ${jobId} did not finish within ${timeoutMs} ms`)
}

/** Waits for many jobs with WaitJobs long polls; resolves when every one succeeded (a failed one throws). */
export async function waitJobs (broker: BrokerClient, jobIds: string[], signal: AbortSignal, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let pending = jobIds
  for (let i = 0; i < 100_000 && pending.length > 0; i++) {
    const left = deadline - Date.now()
    if (left <= 0) throw new TimeoutError(`${pending.length} of ${jobIds.length} jobs did not finish within ${timeoutMs} ms`)
    const { jobs } = await broker.WaitJobs({ jobIds: pending, timeoutMs: Math.min(left, WAIT_MAX_MS) }, { signal })
    const bad = jobs.find((j) => TERMINAL.has(j.state) && j.state !== 'succeeded')
    if (bad !== undefined) throw new JobFailedError(`job ${bad.jobId} ${bad.state}: ${bad.reason ?? 'no reason given'}`)
    pending = jobs.filter((j) => !TERMINAL.has(j.state)).map((j) => j.jobId)
  }
}

async function resultOf (broker: BrokerClient, jobId: string, reason: string | undefined, signal: AbortSignal): Promise<GetJobResultResponse> {
  const res = await broker.GetJobResult({ jobId }, { signal, timeoutMs: 30_000 })
  if (res.state !== 'succeeded') throw new JobFailedError(`job ${jobId} ${res.state}: ${res.reason ?? reason ?? 'no reason given'}`)
  return res
}

/** Rank 0's return value (the job's result). */
export function resultValue (res: GetJobResultResponse): unknown {
  return res.resultJson === undefined ? undefined : JSON.parse(res.resultJson)
}
