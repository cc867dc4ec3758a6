import { realpathSync } from 'node:fs'
import { dirname, isAbsolute } from 'node:path'
import { BadRequestError } from '@mvm/core'
import type { SandboxLimits, SandboxSpec } from './types.js'

/** Variables that would let a job escape the permission flags or hijack the IPC channel. */
const FORBIDDEN_ENV = /^(NODE_OPTIONS|NODE_CHANNEL_.*|NODE_UNIQUE_ID|NODE_REPL_EXTERNAL_MODULE)$/
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** Throws BadRequestError naming the field when a spec cannot be run. */
export function validateSpec (spec: SandboxSpec): void {
  const bad = (field: string, why: string): never => {
    throw new BadRequestError(`sandbox spec ${field}: ${why}`, { data: { id: spec.id, field } })
  }
  if (typeof spec.id !== 'string' || !SAFE_ID.test(spec.id)) bad('id', `"${String(spec.id)}" must match ${SAFE_ID.source} (it names log files)`)
  if (typeof spec.entry !== 'string' || !isAbsolute(spec.entry)) bad('entry', `"${String(spec.entry)}" must be an absolute path`)
  if (typeof spec.workDir !== 'string' || !isAbsolute(spec.workDir)) bad('workDir', `"${String(spec.workDir)}" must be an absolute path`)
  if (typeof spec.logDir !== 'string' || !isAbsolute(spec.logDir)) bad('logDir', `"${String(spec.logDir)}" must be an absolute path`)
  for (const [i, p] of (spec.readPaths ?? []).entries()) {
    if (typeof p !== 'string' || !isAbsolute(p) || p.includes(',')) bad(`readPaths[${i}]`, `"${String(p)}" must be an absolute path without commas`)
  }
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    if (FORBIDDEN_ENV.test(k)) bad(`env.${k}`, 'may not be set for a sandboxed process')
    if (typeof v !== 'string') bad(`env.${k}`, 'must be a string')
  }
  validateLimits(spec.limits ?? {}, 'limits')
}

export function validateLimits (limits: SandboxLimits, field: string): void {
  for (const k of ['memoryMB', 'cpuTimeSec', 'wallTimeSec', 'maxProcesses'] as const) {
    const v = limits[k]
    if (v === undefined) continue
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new BadRequestError(`sandbox spec ${field}.${k}: ${String(v)} must be a positive number`, { data: { field: `${field}.${k}` } })
    }
  }
}

/** The environment a sandbox sees: a few harmless parent variables, HOME = its workDir, and the given ones. */
export function scrubbedEnv (spec: SandboxSpec): Record<string, string> {
  const env: Record<string, string> = {}
  for (const k of ['PATH', 'LANG', 'TZ', 'NODE_ENV']) {
    const v = process.env[k]
    if (v !== undefined) env[k] = v
  }
  env.HOME = spec.workDir
  return { ...env, ...spec.env }
}

/**
 * Paths the sandbox may read. The module loader opens files by their real path, so a
 * symlinked package (npm workspaces link packages into node_modules) needs its target too.
 */
export function readablePaths (spec: SandboxSpec): string[] {
  const out = new Set<string>([spec.workDir, dirname(spec.entry)])
  for (const p of spec.readPaths ?? []) out.add(p)
  for (const p of [...out]) {
    try { out.add(realpathSync(p)) } catch { /* a missing path stays as given: the loader reports it */ }
  }
  return [...out]
}

/**
 * Node's permission model flags. Node 20.20 takes one path per flag (a comma list is
 * rejected with a warning and then denies everything); no child processes, no workers,
 * no addons, because none of those flags is granted.
 */
export function nodeArgs (spec: SandboxSpec): string[] {
  const args = ['--experimental-permission', '--disable-warning=ExperimentalWarning']
  for (const p of readablePaths(spec)) args.push(`--allow-fs-read=${p}`)
  args.push(`--allow-fs-write=${spec.workDir}`)
  if (spec.limits?.memoryMB !== undefined) args.push(`--max-old-space-size=${Math.max(8, Math.floor(spec.limits.memoryMB))}`)
  return [...args, spec.entry, ...(spec.args ?? [])]
}
