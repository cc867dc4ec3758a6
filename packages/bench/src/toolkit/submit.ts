import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { JobFailedError, TimeoutError, sleep } from '@mvm/core'
import type { BrokerClient, GetJobResultResponse, SubmitJobRequest } from '@mvm/soap'
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

/** Polls often: the poll interval bounds how precisely submit → result is seen. */
export const POLL_MS = 5

/** Submits, waits for a terminal state, returns the result; a failed job throws with its reason. */
export async function runJob (broker: BrokerClient, req: SubmitJobRequest, signal: AbortSignal, timeoutMs = 600_000, pollMs = POLL_MS): Promise<GetJobResultResponse> {
  const { jobId } = await broker.SubmitJob(req, { signal, timeoutMs: 30_000 })
  return await waitJob(broker, jobId, signal, timeoutMs, pollMs)
}

/**
 * Polls GetJob every `pollMs` until the job ends. With many jobs in flight, callers poll less
 * often each: 32 pollers at 5 ms would be 6,400 SOAP calls/s, more than the super-peer serves,
 * and the figure would measure the polling instead of the jobs.
 */
export async function waitJob (broker: BrokerClient, jobId: string, signal: AbortSignal, timeoutMs = 600_000, pollMs = POLL_MS): Promise<GetJobResultResponse> {
  const deadline = Date.now() + timeoutMs
  for (let i = 0; Date.now() < deadline && i < 1_000_000; i++) {
    const info = await broker.GetJob({ jobId }, { signal, timeoutMs: 30_000 })
    if (TERMINAL.has(info.state)) {
      const res = await broker.GetJobResult({ jobId }, { signal, timeoutMs: 30_000 })
      if (res.state !== 'succeeded') throw new JobFailedError(`job ${jobId} ${res.state}: ${res.reason ?? info.reason ?? 'no reason given'}`)
      return res
    }
    await sleep(pollMs, signal)
  }
  throw new TimeoutError(`job ${jobId} did not finish within ${timeoutMs} ms`)
}

/** Rank 0's return value (the job's result). */
export function resultValue (res: GetJobResultResponse): unknown {
  return res.resultJson === undefined ? undefined : JSON.parse(res.resultJson)
}
