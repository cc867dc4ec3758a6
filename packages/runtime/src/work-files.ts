import { chmod, copyFile, constants, link, lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises'
import { dirname, join, relative, isAbsolute } from 'node:path'
import { JobFailedError, MvmError, toMvmError } from '@mvm/core'
import { storedOutputName } from '@mvm/model'
import type { InstanceFiles } from './types.js'

/** An output folder is walked at most this far: a rank must not make the node index a huge tree. */
const MAX_OUTPUT_FILES = 10_000
const MAX_OUTPUT_DEPTH = 32

/**
 * Puts the job's prefetched inputs into a rank's work dir: a hard link to the node's verified
 * copy (no bytes copied), or a copy-on-write clone / copy across file systems. Read-only: the
 * rank runs as another uid when the node is root, and the node checks its copy before reuse.
 */
export async function placeInputs (workDir: string, files: InstanceFiles | undefined): Promise<void> {
  await files?.environment?.(workDir)
  for (const f of files?.local ?? []) {
    const dest = join(workDir, f.name)
    await mkdir(dirname(dest), { recursive: true, mode: 0o755 })
    await rm(dest, { force: true })
    try {
      await link(f.path, dest)
    } catch {
      await copyFile(f.path, dest, constants.COPYFILE_FICLONE)
      await chmod(dest, 0o444)
    }
  }
}

function inside (root: string, p: string): boolean {
  const r = relative(root, p)
  return r === '' || (!r.startsWith('..') && !isAbsolute(r))
}

/**
 * Stores the outputs a rank owes (those whose `ranks` include it). A missing output fails the
 * rank (the profile promised it); a symlink that leaves the work dir is refused, never followed.
 */
export async function collectOutputs (rank: number, workDir: string, files: InstanceFiles | undefined): Promise<Array<{ name: string, id: string, size: number }>> {
  const mine = (files?.outputs ?? []).filter((o) => o.ranks === 'all' || o.ranks.includes(rank))
  if (mine.length === 0) return []
  const root = await realpath(workDir)
  const out: Array<{ name: string, id: string, size: number }> = []
  const one = async (abs: string, rel: string, o: InstanceFiles['outputs'][number], depth: number): Promise<void> => {
    let s
    try { s = await lstat(abs) } catch {
      throw new JobFailedError(`rank ${rank} did not write its output ${rel} (listed in the profile's outputs)`)
    }
    if (s.isSymbolicLink()) {
      const target = await realpath(abs).catch(() => undefined)
      if (target === undefined || !inside(root, target)) throw new JobFailedError(`rank ${rank}: output ${rel} is a symlink that leaves the work dir; outputs are files inside it`)
      return await one(target, rel, o, depth)
    }
    if (s.isDirectory()) {
      if (depth >= MAX_OUTPUT_DEPTH) throw new JobFailedError(`rank ${rank}: output ${rel} is deeper than ${MAX_OUTPUT_DEPTH} levels`)
      for (const name of (await readdir(abs)).sort()) await one(join(abs, name), `${rel}/${name}`, o, depth + 1)
      return
    }
    if (!s.isFile()) throw new JobFailedError(`rank ${rank}: output ${rel} is not a regular file`)
    if (out.length >= MAX_OUTPUT_FILES) throw new JobFailedError(`rank ${rank}: outputs hold more than ${MAX_OUTPUT_FILES} files`)
    const name = storedOutputName({ path: rel, ranks: o.ranks }, rank)
    try {
      out.push({ name, ...await files!.collect(abs, name) })
    } catch (err) {
      const e = toMvmError(err)
      throw new MvmError(e.code, `rank ${rank}: output ${rel} could not be stored: ${e.message}`, { cause: err })
    }
  }
  for (const o of mine) await one(join(workDir, o.path), o.path, o, 0)
  return out
}
