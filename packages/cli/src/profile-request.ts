import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { loadProfile, type LoadedProfile } from '@mvm/model'
import { readBundle, type SubmitJobRequest } from '@mvm/soap/client'
import { ValidationError, type Issue } from '@mvm/core'

/**
 * A profile file as a `SubmitJob` request: validated here first (the user sees file:line:col
 * errors without a round trip), with the profile, its program and topology in the bundle,
 * paths relative to their common folder.
 */
export async function profileRequest (file: string, o: { params?: Record<string, string>, owner: string, allowDirs?: string[] }): Promise<{ request: SubmitJobRequest, profile: LoadedProfile }> {
  const params = o.params ?? {}
  const profile = await loadProfile(file, { params, inputs: { local: true, ...(o.allowDirs !== undefined ? { allowDirs: o.allowDirs } : {}) } }).catch((err: unknown) => { throw asFlags(err, params) })
  const paths = [file, profile.program.path, profile.topology.file].filter((p): p is string => p !== undefined)
  const { root, files } = await readBundle(paths)
  return {
    profile,
    request: {
      profileYaml: await readFile(file, 'utf8'),
      profileName: relative(root, file).split('\\').join('/'),
      params: Object.entries(params).map(([name, value]) => ({ name, value })),
      bundle: files,
      owner: o.owner
    }
  }
}

/**
 * Problems with a value the user gave as `--param k=v` name the flag, not the profile's
 * `params.k` field: the file:line still points at the declaration, where the type is.
 */
function asFlags (err: unknown, params: Record<string, string>): unknown {
  if (!(err instanceof ValidationError)) return err
  let changed = false
  const issues = err.issues.map((i): Issue => {
    const m = /^params\.([^.]+)$/.exec(i.path)
    const k = m?.[1]
    if (k === undefined || !(k in params)) return i
    changed = true
    const message = i.message.replace(new RegExp(`^(unknown )?parameter '${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'( = )?`), (_all, unknown?: string) => unknown !== undefined ? 'unknown parameter' : '').replace(/^: /, '')
    return { ...i, path: `--param ${k}`, message }
  })
  return changed ? new ValidationError(issues) : err
}
