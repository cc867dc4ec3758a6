import { BadRequestError, NotFoundError, UnavailableError, type Logger } from '@mvm/core'
import type { Broker, Job, JobRequest } from '@mvm/broker'
import type { DataService, DataStore, EnvironmentRegistry, FileManifest, Holder } from '@mvm/data'
import { ENV_INPUT, workDirPath, type ResolvedInput } from '@mvm/model'
import type { DataInput } from '@mvm/soap'
import type { InstanceInput, InstanceTemplate } from '@mvm/wire'

/** The super-peer's data layer: its store (the group's second-level cache) and the transfer service. */
export interface BrokerData {
  store: DataStore
  service: DataService
  /** This node as a holder (peer id and listen addresses), for peers fetching inputs. */
  self: () => Holder
  /** Inputs up to this size are fetched whole before a rank starts unless the profile says otherwise. */
  prefetchMaxBytes: number
  /** Golden environments of this group, built here once each. */
  environments?: EnvironmentRegistry
  /**
   * The parent group's super-peer, when this one has a parent: a content id not in this store
   * is looked up there, and its chunks come through this store (the group's cache), so a file
   * crosses the link between the groups once however many peers and jobs read it.
   */
  upstream?: () => Holder[]
}

const CONTENT_ID = /^[0-9a-f]{64}$/

/** Pin names: a job's inputs while it may still run, its outputs until removed. */
export const inputPin = (jobId: string): string => `job:${jobId}`
export const outputPin = (jobId: string): string => `output:${jobId}`

/** The submitter's right to each file and job a submission names as input (see data-access.ts); throws to refuse. */
export interface InputCheck {
  file: (id: string, what: string) => void
  job: (jobId: string, what: string) => void
}

/** What the broker keeps of a profile's `inputs` between submission and binding (in the request). */
export type DeclaredInput = ResolvedInput

function checkGiven (given: DataInput[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const [i, g] of given.entries()) {
    if (typeof g?.name !== 'string' || typeof g?.id !== 'string') throw new BadRequestError(`SubmitJob inputs[${i}]: expected { name, id }`)
    const n = workDirPath(g.name)
    if ('error' in n) throw new BadRequestError(`SubmitJob inputs[${i}]: name ${n.error}`)
    if (!CONTENT_ID.test(g.id)) throw new BadRequestError(`SubmitJob inputs[${i}] (${n.ok}): "${g.id.slice(0, 80)}" is not a content id (64 lowercase hex digits)`)
    if (out.has(n.ok)) throw new BadRequestError(`SubmitJob inputs[${i}]: name "${n.ok}" is given twice`)
    out.set(n.ok, g.id)
  }
  return out
}

/**
 * Binds a submission's inputs to files in this store: each local input of the profile to the
 * uploaded files the request names (a folder's as `folder/…`), content ids checked to be here,
 * earlier jobs' outputs to those jobs (which become afterok dependencies). Extra uploaded names
 * are added as inputs. The request comes back with `instance.inputs`/`inputsFrom` set.
 */
export async function bindInputs (request: JobRequest, given: DataInput[] | undefined, data: BrokerData | undefined, broker: Pick<Broker, 'resolveJobRef' | 'result' | 'get'>, check?: InputCheck, origin: Holder[] = []): Promise<JobRequest> {
  const declared = (request.declaredInputs ?? []) as DeclaredInput[]
  const names = checkGiven(given ?? [])
  const tpl = request.instance as InstanceTemplate
  if (declared.length === 0 && names.size === 0 && (tpl.outputs ?? []).length === 0) return request
  if (data === undefined) throw new UnavailableError('this super-peer has no data store: jobs with inputs or outputs cannot run here')
  const inputs: InstanceInput[] = []
  const inputsFrom: NonNullable<InstanceTemplate['inputsFrom']> = []
  const deps: Array<{ job: string, type: 'afterok' }> = []
  const used = new Set<string>()
  const stored = async (name: string, id: string, mode: ResolvedInput['mode'], what: string): Promise<void> => {
    const m = await data.store.getManifest(id) ?? await fromUpstream(data, id) ?? await fromOrigin(data, id, origin, what)
    if (m === undefined) throw new NotFoundError(`${what}: content id ${id} is not in this lab's store (upload it with \`mvm data put\` or PutData)`)
    check?.file(id, what)
    inputs.push({ name, id, size: m.size, mode: mode ?? (m.size <= data.prefetchMaxBytes ? 'prefetch' : 'onDemand') })
  }
  for (const d of declared) {
    const what = `inputs[${d.entry}] (${d.as})`
    if (d.source.kind === 'local') {
      const mine = [...names].filter(([n]) => n === d.as || n.startsWith(`${d.as}/`))
      if (mine.length === 0) throw new BadRequestError(`${what}: the local file ${d.source.path} did not come with the submission; \`mvm submit\` uploads it, a SOAP client uploads it with PutData and names it in SubmitJob inputs`)
      for (const [n, id] of mine) { used.add(n); await stored(n, id, d.mode, what) }
    } else if (d.source.kind === 'id') {
      await stored(d.as, d.source.id, d.mode, what)
    } else {
      let jobId: string
      try { jobId = broker.resolveJobRef(d.source.job) } catch (err) {
        throw new NotFoundError(`${what}: no job "${d.source.job}" to take output ${d.source.output} from: ${(err as Error).message}`, { cause: err })
      }
      check?.job(jobId, what)
      const done = broker.get(jobId)
      // a job that already succeeded must have the output now; one still to come is checked at dispatch
      if (done.state === 'succeeded') outputOf(broker, jobId, d.source.output, what)
      inputsFrom.push({ name: d.as, jobId, output: d.source.output, mode: d.mode ?? 'prefetch' })
      deps.push({ job: jobId, type: 'afterok' })
    }
  }
  for (const [n, id] of names) {
    if (used.has(n)) continue
    if (declared.some((d) => d.as === n)) throw new BadRequestError(`SubmitJob inputs: "${n}" is already an input of the profile`)
    await stored(n, id, undefined, `SubmitJob input ${n}`)
  }
  const own = request.dependsOn as unknown
  const mine: unknown[] = own === undefined ? [] : Array.isArray(own) ? own : [own]
  const env = await bindEnvironment(tpl, inputs, data)
  const rest = inputs.filter((x) => !isEnvFile(x.name))
  return {
    ...request,
    ...(deps.length > 0 ? { dependsOn: [...mine, ...deps] as JobRequest['dependsOn'] } : {}),
    instance: { ...tpl, ...(rest.length > 0 ? { inputs: rest } : {}), ...(inputsFrom.length > 0 ? { inputsFrom } : {}), ...(env === undefined ? {} : { environment: env }) }
  }
}

/** The manifest of a file the parent group's store has (its chunks stay there until a peer asks). */
async function fromUpstream (data: BrokerData, id: string): Promise<FileManifest | undefined> {
  const up = data.upstream?.() ?? []
  if (up.length === 0) return undefined
  try { return await data.service.fetchManifest(id, up) } catch { return undefined }
}

/**
 * A job passed on from another group: its stored inputs are that group's files, copied whole
 * into this store (this group's cache) before the job is accepted, so its peers read them here.
 */
async function fromOrigin (data: BrokerData, id: string, origin: Holder[], what: string): Promise<FileManifest | undefined> {
  if (origin.length === 0) return undefined
  try {
    await data.service.fetch(id, origin)
  } catch (err) {
    throw new UnavailableError(`${what}: content id ${id} could not be fetched from the group the job came from: ${(err as Error).message}`, { cause: err })
  }
  return await data.store.getManifest(id)
}

const isEnvFile = (name: string): boolean => name.startsWith(`${ENV_INPUT}/`)

/**
 * The profile's environment, from the files that came as `@environment/…` inputs, so every
 * peer of the group fetches the same tree and none installs anything. One already built (by
 * its key) or a folder (recorded at once) is bound now; an npm one not built yet comes back
 * with its key and sources and no id: the job is accepted at once and waits, gated, while
 * this super-peer builds it (see env-gate.ts), since a first `npm install` can outlast a
 * client's SOAP timeout.
 */
async function bindEnvironment (tpl: InstanceTemplate, inputs: InstanceInput[], data: BrokerData): Promise<InstanceTemplate['environment']> {
  const env = tpl.environment
  const files = inputs.filter((x) => isEnvFile(x.name)).map((x) => ({ path: x.name.slice(ENV_INPUT.length + 1), id: x.id }))
  if (env === undefined) {
    if (files.length > 0) throw new BadRequestError(`SubmitJob inputs: names under ${ENV_INPUT}/ are the profile's environment, and this profile has none`)
    return undefined
  }
  if (env.id !== undefined || env.sources !== undefined) return env // bound before (a resubmitted template)
  if (data.environments === undefined) throw new UnavailableError('this super-peer builds no environments')
  if (env.packages === undefined && files.length === 0) throw new BadRequestError(`the profile's environment did not come with the submission; \`mvm submit\` uploads it as inputs ${ENV_INPUT}/…`)
  const opts = env.packages === undefined ? {} : { packages: env.packages }
  const base = { kind: env.kind, ...opts }
  if (env.kind === 'npm') {
    const found = await data.environments.lookup('npm', files, opts)
    if (found.id === undefined) return { ...base, key: found.key, sources: files }
  }
  const r = await data.environments.resolve(env.kind, files, opts)
  return { ...base, id: r.id, key: r.key }
}

/** An output of a finished job by its stored name; E_NOT_FOUND listing the outputs it has. */
export function outputOf (broker: Pick<Broker, 'result'>, jobId: string, name: string, what: string): { id: string, size: number } {
  const all = broker.result(jobId).ranks.flatMap((r) => r.outputs ?? [])
  const hit = all.find((o) => o.name === name)
  if (hit === undefined) throw new NotFoundError(`${what}: job ${jobId} has no output "${name}" (its outputs: ${all.map((o) => o.name).join(', ') || 'none'})`)
  return hit
}

/** The inputs a job runs with: its bound ones plus the outputs of the jobs it takes them from. */
export function dispatchInputs (job: Job, broker: Pick<Broker, 'result'>): InstanceInput[] {
  const tpl = job.request.instance as InstanceTemplate
  const from = (tpl.inputsFrom ?? []).map((f) => {
    const o = outputOf(broker, f.jobId, f.output, `input ${f.name}`)
    return { name: f.name, id: o.id, size: o.size, mode: f.mode }
  })
  return [...(tpl.inputs ?? []), ...from]
}

/** Every content id a job's inputs use (to pin them while it may run), an unbuilt environment's sources included. */
export function inputIds (job: Job): string[] {
  const tpl = job.request.instance as InstanceTemplate | undefined
  const env = tpl?.environment
  return [...new Set([...(tpl?.inputs ?? []).map((i) => i.id), ...(env?.id === undefined ? [] : [env.id]), ...(env?.sources ?? []).map((f) => f.id)])]
}

/**
 * The outputs a peer reported for a rank, fetched into this store before the rank counts as
 * done (so they outlive the peer) and pinned with the job.
 */
export async function fetchOutputs (data: BrokerData, jobId: string, outputs: Array<{ name: string, id: string, size: number }>, from: Holder, log: Logger, signal?: AbortSignal): Promise<void> {
  for (const o of outputs) {
    await data.service.fetch(o.id, [from], signal === undefined ? {} : { signal })
    await data.store.pin(o.id, outputPin(jobId))
    log.debug({ jobId, output: o.name, size: o.size }, 'output stored')
  }
}
