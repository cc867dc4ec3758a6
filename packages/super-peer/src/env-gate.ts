import { silentLogger, toMvmError, type Logger } from '@mvm/core'
import type { Broker, Job } from '@mvm/broker'
import type { InstanceTemplate, JobEnvironment } from '@mvm/wire'
import type { BrokerData } from './job-data.js'

/** The wait reason of a job whose environment this super-peer is building. */
export const buildingReason = (key: string): string => `building environment ${key}`

type Pending = JobEnvironment & { key: string, sources: NonNullable<JobEnvironment['sources']> }

/** The job's environment when it was accepted before it was built (no tree id yet). */
export function pendingEnvironment (job: Job): Pending | undefined {
  const env = (job.request.instance as InstanceTemplate | undefined)?.environment
  if (env === undefined || env.id !== undefined || env.key === undefined || env.sources === undefined) return undefined
  return env as Pending
}

/**
 * Holds each of these jobs whose environment is not built yet out of scheduling, its wait
 * reason saying so, and builds the environment here in the background: jobs with the same key
 * share one build (the registry's). A build that succeeds lets the job be scheduled; one that
 * fails fails the job with npm's message. Called right after the jobs are submitted (before
 * the broker's next pass) and for every queued job when the broker starts again, so a build a
 * restart interrupted runs again before its job is dispatched.
 */
export function gateBuilds (broker: Pick<Broker, 'get' | 'gate' | 'openGate' | 'failQueued'>, data: BrokerData, jobIds: string[], log: Logger = silentLogger()): void {
  const registry = data.environments
  if (registry === undefined) return
  for (const jobId of jobIds) {
    const env = pendingEnvironment(broker.get(jobId))
    if (env === undefined) continue
    broker.gate(jobId, buildingReason(env.key))
    registry.resolve(env.kind, env.sources, env.packages === undefined ? {} : { packages: env.packages }).then(() => {
      broker.openGate(jobId)
    }, (err: unknown) => {
      const m = toMvmError(err).message
      log.warn({ jobId, key: env.key, err: m }, 'environment build failed; job failed')
      broker.failQueued(jobId, `environment ${env.key} could not be built: ${m}`)
    })
  }
}

/**
 * The environment a job is dispatched with: its tree id filled in by key (built by then; built
 * here as a fallback when the job reached dispatch without its gate), the sources left out.
 */
export async function dispatchEnvironment (job: Job, data: BrokerData | undefined): Promise<JobEnvironment | undefined> {
  const env = pendingEnvironment(job)
  if (env === undefined || data?.environments === undefined) return undefined
  const opts = env.packages === undefined ? {} : { packages: env.packages }
  // looked up first: a built one is not counted as reused again (its submission was its use)
  const found = await data.environments.lookup(env.kind, env.sources, opts)
  const r = found.id !== undefined ? { id: found.id, key: found.key } : await data.environments.resolve(env.kind, env.sources, opts)
  const { sources: _s, ...rest } = env
  return { ...rest, id: r.id, key: r.key }
}
