import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, sep } from 'node:path'
import { BadRequestError, ValidationError, type Issue } from '@mvm/core'
import { expandArray, loadProfile, writtenJobSettings, type LoadedProfile } from '@mvm/model'
import type { JobRequest } from '@mvm/broker'
import type { SubmitJobRequest } from '@mvm/soap'
import { safeBundlePath, writeBundle, type BundleFile } from '@mvm/soap'
import { DEFAULT_RESOURCES, type InstanceTemplate } from '@mvm/wire'
import type { SubmissionCache } from './submission-cache.js'

export interface Submission {
  request: JobRequest
  /** The bundle as stored by the broker (content-addressed): JSON of `{ path, content(base64) }[]`. */
  bundle: Uint8Array
  /** The queue and resource settings the profile wrote (`queue.capacity`, …): the policy fills the rest. */
  written?: ReadonlySet<string>
}

/**
 * What identifies a submission's content (not its owner): equal keys give equal job requests,
 * so the validation of a profile sent again is looked up, not redone. Each part is length-prefixed.
 */
export function submissionKey (req: SubmitJobRequest): string {
  const h = createHash('sha256')
  const part = (b: string | Uint8Array): void => {
    const bytes = typeof b === 'string' ? Buffer.from(b, 'utf8') : b
    h.update(String(bytes.byteLength)).update(':').update(bytes)
  }
  part(req.profileName ?? 'profile.yaml')
  part(req.profileYaml)
  for (const p of req.params) { part(p.name); part(p.value) }
  part('--bundle')
  for (const f of req.bundle) { part(f.path); part(f.content) }
  return h.digest('hex')
}

/**
 * The broker's half of step c: the submitted profile is validated here again (a client can
 * skip local validation), against the files it shipped, and becomes a job request. Errors
 * name the profile's own relative paths, never the broker's temporary folder. With a `cache`,
 * a submission whose content was validated before reuses that result (only its owner differs).
 */
export async function prepareSubmission (req: SubmitJobRequest, opts: { owner: string, signal?: AbortSignal, cache?: SubmissionCache }): Promise<Submission> {
  const cache = opts.cache
  if (cache === undefined) return withOwner(await prepareTemplate(req, opts.signal), opts.owner)
  const key = submissionKey(req)
  let t = cache.get(key)
  if (t === undefined) {
    t = await prepareTemplate(req, opts.signal)
    cache.set(key, t)
  }
  return withOwner(t, opts.owner)
}

/** The owner goes in per request: a cached template is shared by every owner who sends the same content. */
function withOwner (t: Submission, owner: string): Submission {
  const one = (r: JobRequest): JobRequest => ({ ...r, owner, instance: { ...(r.instance as InstanceTemplate), owner } })
  const request = one(t.request)
  if (t.request.children !== undefined) request.children = t.request.children.map((c) => one(c as JobRequest))
  return { request, bundle: t.bundle, ...(t.written !== undefined ? { written: t.written } : {}) }
}

const TEMPLATE_OWNER = ''

async function prepareTemplate (req: SubmitJobRequest, signal: AbortSignal | undefined): Promise<Submission> {
  const opts = { owner: TEMPLATE_OWNER, ...(signal !== undefined ? { signal } : {}) }
  const dir = await mkdtemp(join(tmpdir(), 'mvm-submit-'))
  try {
    const files: BundleFile[] = req.bundle.map((f) => ({ path: f.path, content: f.content }))
    const profileName = safeBundlePath(req.profileName ?? 'profile.yaml')
    if (!files.some((f) => safeBundlePath(f.path) === profileName)) files.push({ path: profileName, content: new TextEncoder().encode(req.profileYaml) })
    await writeBundle(dir, files)
    const params = Object.fromEntries(req.params.map((p) => [p.name, p.value]))
    let profile: LoadedProfile
    try {
      // local inputs are on the submitter's machine: they arrive as uploaded files (bindInputs)
      profile = await loadProfile(join(dir, profileName), { params, inputs: { local: false }, ...(opts.signal !== undefined ? { signal: opts.signal } : {}) })
    } catch (err) {
      if (err instanceof ValidationError) throw new ValidationError(err.issues.map((i) => relativeIssue(i, dir)))
      throw err
    }
    const children = expandArray(profile)
    const toRequest = (p: LoadedProfile): JobRequest => ({
      name: p.metadata.name,
      owner: opts.owner,
      priority: p.spec.priority,
      size: p.spec.processes,
      ...(p.spec.reservation !== undefined ? { reservation: p.spec.reservation } : {}),
      resources: { memoryMB: p.spec.resources?.memoryMB ?? DEFAULT_RESOURCES.memoryMB, cpu: p.spec.resources?.cpu ?? 1 },
      ...(p.spec.placement !== undefined ? { placement: p.spec.placement } : {}),
      // the written forms: the broker resolves the jobs and normalises them to { jobId, type }
      ...(p.spec.dependsOn !== undefined ? { dependsOn: p.spec.dependsOn as unknown as JobRequest['dependsOn'] } : {}),
      ...(p.inputs.length > 0 ? { declaredInputs: p.inputs } : {}),
      // the broker resizes within the bounds; the dispatcher expands the topology at the new size
      ...(p.malleable === undefined ? {} : { malleable: { ...p.malleable, topology: p.topology.spec } }),
      instance: template(p, opts.owner, dir)
    })
    const request: JobRequest = profile.spec.array === undefined
      ? toRequest(profile)
      : { ...toRequest(profile), children: children.map((c) => ({ ...toRequest(c), arrayParams: arrayParams(profile, c) })) }
    const stored = JSON.stringify(files.map((f) => ({ path: safeBundlePath(f.path), content: Buffer.from(f.content).toString('base64') })))
    const profileFile = files.find((f) => safeBundlePath(f.path) === profileName)
    const written = writtenJobSettings(profileFile !== undefined ? new TextDecoder().decode(profileFile.content) : req.profileYaml)
    return { request, bundle: new TextEncoder().encode(stored), written }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/**
 * An element's own values, the ones `spec.array` set, in the profile's key order: kept with the
 * job so `mvm result` can label its result by them long after the submit. Strings as they are,
 * other values as JSON (so `n=10000`, `mode=fast`, `flags=[1,2]`).
 */
function arrayParams (parent: LoadedProfile, child: LoadedProfile): Array<{ name: string, value: string }> {
  const a = parent.spec.array
  if (a === undefined) return []
  const keys = 'values' in a ? [...new Set(a.values.flatMap((v) => Object.keys(v)))] : Object.keys(a.matrix)
  const params = (child.spec.params ?? {}) as Record<string, unknown>
  return keys.map((name) => {
    const v = params[name]
    return { name, value: typeof v === 'string' ? v : String(JSON.stringify(v) ?? '') }
  })
}

function template (p: LoadedProfile, owner: string, dir: string): InstanceTemplate {
  const r = p.spec.resources
  return {
    owner,
    name: p.metadata.name,
    program: { source: p.program.source, language: p.program.language, ...(p.program.path !== undefined ? { path: stripDir(p.program.path, dir) } : {}) },
    graph: p.topology.graph,
    params: p.spec.params,
    resources: {
      memoryMB: r?.memoryMB ?? DEFAULT_RESOURCES.memoryMB,
      wallTimeSec: r?.wallTimeSec ?? DEFAULT_RESOURCES.wallTimeSec,
      ...(r?.cpuTimeSec !== undefined ? { cpuTimeSec: r.cpuTimeSec } : {})
    },
    queue: p.spec.queue,
    ...(p.spec.checkpoint !== undefined ? { checkpoint: { mode: p.spec.checkpoint.mode, intervalSec: p.spec.checkpoint.intervalSec } } : {}),
    ...(p.outputs.length > 0 ? { outputs: p.outputs } : {}),
    ...(p.spec.environment === undefined ? {} : { environment: environmentOf(p.spec.environment) })
  }
}

function environmentOf (e: NonNullable<LoadedProfile['spec']['environment']>): NonNullable<InstanceTemplate['environment']> {
  if (!('npm' in e)) return { kind: 'folder' }
  return typeof e.npm === 'string' ? { kind: 'npm' } : { kind: 'npm', packages: { ...e.npm.packages } }
}

function stripDir (p: string, dir: string): string {
  return p.startsWith(dir + sep) ? p.slice(dir.length + 1).split(sep).join('/') : p
}

function relativeIssue (i: Issue, dir: string): Issue {
  return { ...i, file: stripDir(i.file, dir), message: i.message.split(dir + sep).join('') }
}

export function decodeStoredBundle (b: Uint8Array | undefined): BundleFile[] {
  if (b === undefined) return []
  try {
    const arr = JSON.parse(new TextDecoder().decode(b)) as Array<{ path: string, content: string }>
    return arr.map((f) => ({ path: f.path, content: new Uint8Array(Buffer.from(f.content, 'base64')) }))
  } catch (err) {
    throw new BadRequestError('stored bundle is unreadable', { cause: err })
  }
}
