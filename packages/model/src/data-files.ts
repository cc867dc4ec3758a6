import { lstat, readdir, realpath, stat } from 'node:fs/promises'
import path from 'node:path'
import type { Issue } from '@mvm/core'
import type { ParsedDocument } from './document.js'
import type { FileRef } from './files.js'
import type { EnvironmentSpec, InputSpec, OutputSpec } from './schemas/profile.js'

/** Where one input file's bytes come from. */
export type InputSource =
  | { kind: 'local', path: string, size: number }
  | { kind: 'id', id: string }
  | { kind: 'output', job: string, output: string }

/** One file a rank finds in its work dir (a folder input gives one per file in it). */
export interface ResolvedInput {
  /** Relative path in the rank's work dir (always `/`-separated). */
  as: string
  /** As the profile says; absent: decided by size (policy `data.prefetchMaxMB`). */
  mode?: 'prefetch' | 'onDemand'
  source: InputSource
  /** Index of the `spec.inputs` entry it came from. */
  entry: number
}

export interface ResolvedOutput {
  path: string
  /** Ranks whose copy is kept; `[0]` by default. */
  ranks: 'all' | number[]
}

export interface InputCheck {
  /**
   * Whether local paths are checked and expanded here (the submitter's side). The broker,
   * which has only the profile, leaves them as declared and takes the uploaded ids instead.
   */
  local: boolean
  /** Folders a local input may come from besides the profile's folder and the current one. */
  allowDirs?: string[]
}

/** A folder input walks at most this many files, this deep: a mistyped `/` must not scan a disk. */
const MAX_FOLDER_FILES = 10_000
const MAX_FOLDER_DEPTH = 32

/**
 * A path inside a rank's work dir, from the profile: relative, no `..`, none of the names the
 * runtime writes there itself. Returns the normalised `/` form or why it is refused.
 */
export function workDirPath (p: string): { ok: string } | { error: string } {
  if (p.length > 512) return { error: 'must be at most 512 characters' }
  if (p.includes('\0')) return { error: 'contains a NUL byte' }
  const unixish = p.replaceAll('\\', '/')
  if (unixish.startsWith('/') || /^[a-zA-Z]:/.test(unixish)) return { error: `"${p}" must be relative to the rank's work dir` }
  const n = path.posix.normalize(unixish).replace(/\/+$/, '')
  if (n === '.' || n === '') return { error: `"${p}" names the work dir itself` }
  if (n === '..' || n.startsWith('../')) return { error: `"${p}" leaves the rank's work dir` }
  const base = path.posix.basename(n)
  if (n.startsWith('.mvm') || /^program-[0-9a-f]+\.mjs$/.test(base) || base.endsWith('.checkpoint.json')) return { error: `"${p}" is a name the runtime uses in the work dir` }
  return { ok: n }
}

function inside (root: string, p: string): boolean {
  const r = path.relative(root, p)
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r))
}

interface Ctx { doc: ParsedDocument, ref: FileRef, check: InputCheck, issues: Issue[], roots: string[] | undefined }

function fieldOf (spec: InputSpec, i: number, key: 'path' | 'as' | 'id' | 'from'): Array<string | number> {
  return typeof spec === 'string' ? ['spec', 'inputs', i] : ['spec', 'inputs', i, key]
}

async function allowedRoots (ref: FileRef, check: InputCheck): Promise<string[]> {
  const out: string[] = []
  for (const d of [path.dirname(ref.abs), process.cwd(), ...(check.allowDirs ?? [])]) {
    try { out.push(await realpath(d)) } catch { out.push(path.resolve(d)) }
  }
  return out
}

/** Every regular file under a folder, bounded; a symlink that leaves the folder is an error. */
async function walk (dir: string, realDir: string, issue: (m: string) => void): Promise<Array<{ rel: string, abs: string, size: number }>> {
  const out: Array<{ rel: string, abs: string, size: number }> = []
  const visit = async (rel: string, depth: number): Promise<boolean> => {
    if (depth > MAX_FOLDER_DEPTH) { issue(`folder is deeper than ${MAX_FOLDER_DEPTH} levels at ${rel}`); return false }
    const names = (await readdir(path.join(dir, rel))).sort()
    for (const name of names) {
      const r = rel === '' ? name : `${rel}/${name}`
      const abs = path.join(dir, r)
      const l = await lstat(abs)
      let s = l
      if (l.isSymbolicLink()) {
        const target = await realpath(abs).catch(() => undefined)
        if (target === undefined || !inside(realDir, target)) { issue(`${r} is a symlink that leaves the folder (to ${target ?? 'nowhere'}); inputs are copied from inside it only`); return false }
        s = await stat(abs)
      }
      if (s.isDirectory()) { if (!await visit(r, depth + 1)) return false; continue }
      if (!s.isFile()) continue
      if (out.length >= MAX_FOLDER_FILES) { issue(`folder has more than ${MAX_FOLDER_FILES} files`); return false }
      out.push({ rel: r, abs, size: s.size })
    }
    return true
  }
  await visit('', 0)
  return out
}

async function localInput (c: Ctx, spec: InputSpec, i: number, written: string, as: string, mode: ResolvedInput['mode'], field = fieldOf(spec, i, 'path')): Promise<ResolvedInput[]> {
  const at = (m: string): ResolvedInput[] => { c.issues.push(c.doc.source.issueAt(field, m)); return [] }
  if (!c.check.local) return [{ as, ...(mode === undefined ? {} : { mode }), entry: i, source: { kind: 'local', path: written.replaceAll('\\', '/'), size: 0 } }]
  const abs = path.resolve(path.dirname(c.ref.abs), written)
  let real: string
  try { real = await realpath(abs) } catch (err) {
    const e = err as NodeJS.ErrnoException
    return at(e.code === 'ENOENT' ? `input file not found: ${written} (paths are relative to the profile's folder)` : `cannot read input ${written}: ${e.message}`)
  }
  c.roots ??= await allowedRoots(c.ref, c.check)
  if (!c.roots.some((r) => inside(r, real))) {
    return at(`input ${written} is outside the folders inputs may come from (${c.roots.join(', ')}); allow another with --input-dir`)
  }
  const s = await stat(real)
  if (s.isFile()) return [{ as, ...(mode === undefined ? {} : { mode }), entry: i, source: { kind: 'local', path: real, size: s.size } }]
  if (!s.isDirectory()) return at(`input ${written} is neither a file nor a folder`)
  let bad: string | undefined
  const files = await walk(real, real, (m) => { bad ??= m })
  if (bad !== undefined) return at(`input folder ${written}: ${bad}`)
  if (files.length === 0) return at(`input folder ${written} has no files`)
  return files.map((f) => ({ as: `${as}/${f.rel}`, ...(mode === undefined ? {} : { mode }), entry: i, source: { kind: 'local', path: f.abs, size: f.size } }))
}

/** Checks and expands `spec.inputs`; every problem is an issue at its field. */
export async function resolveInputs (doc: ParsedDocument, ref: FileRef, specs: InputSpec[] | undefined, check: InputCheck): Promise<{ inputs: ResolvedInput[], issues: Issue[] }> {
  const c: Ctx = { doc, ref, check, issues: [], roots: undefined }
  const inputs: ResolvedInput[] = []
  const seen = new Map<string, number>()
  for (const [i, spec] of (specs ?? []).entries()) {
    const o = typeof spec === 'string' ? { path: spec } : spec
    const mode = o.mode
    const natural = 'path' in o ? path.basename(o.path.replaceAll('\\', '/').replace(/\/+$/, '')) : 'from' in o ? path.posix.basename(o.from.output) : undefined
    const named = workDirPath(o.as ?? natural ?? '')
    if ('error' in named) { c.issues.push(doc.source.issueAt(o.as !== undefined ? fieldOf(spec, i, 'as') : fieldOf(spec, i, 'path'), `input name ${named.error}`)); continue }
    const as = named.ok
    if (as === ENV_INPUT || as.startsWith(`${ENV_INPUT}/`)) { c.issues.push(doc.source.issueAt(fieldOf(spec, i, o.as !== undefined ? 'as' : 'path'), `input name "${as}" is reserved for the profile's environment`)); continue }
    const other = seen.get(as)
    if (other !== undefined) { c.issues.push(doc.source.issueAt(fieldOf(spec, i, 'as'), `input name "${as}" is already used by inputs[${other}]`)); continue }
    seen.set(as, i)
    if ('path' in o) inputs.push(...await localInput(c, spec, i, o.path, as, mode))
    else if ('id' in o) inputs.push({ as, ...(mode === undefined ? {} : { mode }), entry: i, source: { kind: 'id', id: o.id } })
    else {
      const out = workDirPath(o.from.output)
      if ('error' in out) { c.issues.push(doc.source.issueAt(['spec', 'inputs', i, 'from', 'output'], `output name ${out.error}`)); continue }
      inputs.push({ as, ...(mode === undefined ? {} : { mode }), entry: i, source: { kind: 'output', job: o.from.job, output: out.ok } })
    }
  }
  return { inputs, issues: c.issues }
}

/**
 * The work-dir name under which a profile's `environment` folder travels with the submission
 * (as inputs `@environment/<file>`); the super-peer takes those files out of the job's inputs and
 * builds the environment from them. No input may use it.
 */
export const ENV_INPUT = '@environment'

/**
 * Checks `spec.environment` and expands its folder into inputs named `@environment/…` (the submitter
 * uploads them like any folder input). An npm environment needs package.json and package-lock.json.
 */
export async function resolveEnvironment (doc: ParsedDocument, ref: FileRef, env: EnvironmentSpec | undefined, check: InputCheck): Promise<{ inputs: ResolvedInput[], issues: Issue[] }> {
  if (env === undefined) return { inputs: [], issues: [] }
  const c: Ctx = { doc, ref, check, issues: [], roots: undefined }
  if ('npm' in env && typeof env.npm !== 'string') return await packageTarballs(c, env.npm.packages)
  const kind = 'npm' in env ? 'npm' : 'folder'
  const written = 'npm' in env ? env.npm as string : env.folder
  const field = ['spec', 'environment', kind]
  const inputs = await localInput(c, written, -1, written, ENV_INPUT, 'prefetch', field)
  if (check.local && kind === 'npm' && c.issues.length === 0) {
    for (const need of ['package.json', 'package-lock.json']) {
      if (!inputs.some((x) => x.as === `${ENV_INPUT}/${need}`)) c.issues.push(doc.source.issueAt(field, `npm environment ${written} has no ${need} (npm ci installs what the lockfile names)`))
    }
  }
  if (check.local && inputs.length === 1 && inputs[0]!.as === ENV_INPUT) c.issues.push(doc.source.issueAt(field, `environment ${written} must be a folder`))
  return { inputs, issues: c.issues }
}

/**
 * An npm environment given as packages: each `file:` version names a tarball under the
 * profile's folder, uploaded as `@environment/<that path>` so the super-peer's package.json
 * resolves it the same way. Registry versions need nothing uploaded.
 */
async function packageTarballs (c: Ctx, packages: Record<string, string>): Promise<{ inputs: ResolvedInput[], issues: Issue[] }> {
  const inputs: ResolvedInput[] = []
  for (const [name, spec] of Object.entries(packages)) {
    if (!spec.startsWith('file:')) continue
    const field = ['spec', 'environment', 'npm', 'packages', name]
    const p = workDirPath(spec.slice(5))
    if ('error' in p) { c.issues.push(c.doc.source.issueAt(field, `package ${name}: ${spec} must name a tarball inside the profile's folder (${p.error})`)); continue }
    const got = await localInput(c, p.ok, -1, p.ok, `${ENV_INPUT}/${p.ok}`, 'prefetch', field)
    if (c.check.local && got.length !== 1) {
      if (got.length > 1) c.issues.push(c.doc.source.issueAt(field, `package ${name}: ${spec} must be a tarball file, not a folder`))
      continue
    }
    inputs.push(...got)
  }
  return { inputs, issues: c.issues }
}

export function resolveOutputs (doc: ParsedDocument, specs: OutputSpec[] | undefined, size: number | undefined): { outputs: ResolvedOutput[], issues: Issue[] } {
  const issues: Issue[] = []
  const outputs: ResolvedOutput[] = []
  const seen = new Map<string, number>()
  for (const [i, spec] of (specs ?? []).entries()) {
    const o = typeof spec === 'string' ? { path: spec } : spec
    const field = typeof spec === 'string' ? ['spec', 'outputs', i] : ['spec', 'outputs', i, 'path']
    const p = workDirPath(o.path)
    if ('error' in p) { issues.push(doc.source.issueAt(field, `output path ${p.error}`)); continue }
    const other = seen.get(p.ok)
    if (other !== undefined) { issues.push(doc.source.issueAt(field, `output "${p.ok}" is already listed as outputs[${other}]`)); continue }
    seen.set(p.ok, i)
    const ranks = o.ranks ?? [0]
    const beyond = Array.isArray(ranks) && size !== undefined ? ranks.find((r) => r >= size) : undefined
    if (beyond !== undefined) { issues.push(doc.source.issueAt(['spec', 'outputs', i, 'ranks'], `rank ${beyond} does not exist: the job has ${size ?? 0} ranks (0-${(size ?? 1) - 1})`)); continue }
    outputs.push({ path: p.ok, ranks: Array.isArray(ranks) ? [...new Set(ranks)].sort((a, b) => a - b) : ranks })
  }
  return { outputs, issues }
}

/**
 * The name an output is stored under: its path when one rank's copy is kept, `rank-<r>/<path>`
 * when several are (so `mvm result --output DIR` writes them side by side).
 */
export function storedOutputName (o: ResolvedOutput, rank: number): string {
  return Array.isArray(o.ranks) && o.ranks.length === 1 ? o.path : `rank-${rank}/${o.path}`
}
