import { readFile } from 'node:fs/promises'
import { relative } from 'node:path'
import { loadProfile, type LoadedProfile } from '@mvm/model'
import { readBundle, type SubmitJobRequest } from '@mvm/soap'

/**
 * A profile file as a `SubmitJob` request: validated here first (the user sees file:line:col
 * errors without a round trip), with the profile, its program and topology in the bundle,
 * paths relative to their common folder.
 */
export async function profileRequest (file: string, o: { params?: Record<string, string>, owner: string }): Promise<{ request: SubmitJobRequest, profile: LoadedProfile }> {
  const params = o.params ?? {}
  const profile = await loadProfile(file, { params })
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
