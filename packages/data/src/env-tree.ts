import { chmod, copyFile, constants, link, mkdir, symlink } from 'node:fs/promises'
import { dirname, join, posix } from 'node:path'
import { DataError, ErrorCode } from '@mvm/core'

/** One file of an environment: its path under the environment's root and its content id. */
export interface TreeFile { path: string, id: string, size: number, exec: boolean }
/** A relative symlink inside the environment (npm links a package's bin, hoisted deps). */
export interface TreeLink { path: string, target: string }

/**
 * A golden environment as stored: a list of files by content id (each one a file in the
 * store) and the relative links between them. Its own content id names the environment.
 */
export interface EnvironmentTree {
  v: 1
  kind: 'npm' | 'folder'
  files: TreeFile[]
  links: TreeLink[]
}

/** An environment holds at most this many files (a big node_modules has tens of thousands). */
export const MAX_TREE_FILES = 200_000
const CONTENT_ID = /^[0-9a-f]{64}$/

/** A relative path with no `..`, no empty or `.` part, no backslash: it stays under the root. */
export function safeRelative (p: unknown): p is string {
  if (typeof p !== 'string' || p === '' || p.length > 4096 || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..')
}

/** Whether a link's target, taken from the link's folder, stays inside the root. */
export function linkStaysInside (path: string, target: string): boolean {
  if (typeof target !== 'string' || target === '' || target.startsWith('/') || target.includes('\\') || target.includes('\0')) return false
  const joined = posix.normalize(posix.join(posix.dirname(path), target))
  return joined !== '..' && !joined.startsWith('../') && !posix.isAbsolute(joined)
}

export function encodeTree (t: EnvironmentTree): Uint8Array {
  const files = [...t.files].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  const links = [...t.links].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
  return new TextEncoder().encode(JSON.stringify({ v: 1, kind: t.kind, files, links }))
}

/** Parses and checks a tree: every path stays under the root, every link inside it. */
export function decodeTree (bytes: Uint8Array): EnvironmentTree {
  const bad = (why: string): never => { throw new DataError(ErrorCode.DATA_CORRUPT, `not an environment tree: ${why}`) }
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch (e) { return bad((e as Error).message) }
  const t = v as Partial<EnvironmentTree> | null
  if (t === null || typeof t !== 'object' || t.v !== 1) return bad('no version 1')
  if (t.kind !== 'npm' && t.kind !== 'folder') return bad(`kind ${String(t.kind)}`)
  if (!Array.isArray(t.files) || !Array.isArray(t.links)) return bad('files and links must be lists')
  if (t.files.length + t.links.length > MAX_TREE_FILES) return bad(`more than ${MAX_TREE_FILES} entries`)
  const seen = new Set<string>()
  for (const f of t.files) {
    if (!safeRelative(f?.path)) return bad(`file path ${JSON.stringify(f?.path)} leaves the root`)
    if (typeof f.id !== 'string' || !CONTENT_ID.test(f.id)) return bad(`file ${f.path}: bad content id`)
    if (!Number.isSafeInteger(f.size) || f.size < 0 || typeof f.exec !== 'boolean') return bad(`file ${f.path}: bad size or exec`)
    if (seen.has(f.path)) return bad(`${f.path} twice`)
    seen.add(f.path)
  }
  for (const l of t.links) {
    if (!safeRelative(l?.path) || !linkStaysInside(l.path, l.target)) return bad(`link ${JSON.stringify(l?.path)} -> ${JSON.stringify(l?.target)} leaves the root`)
    if (seen.has(l.path)) return bad(`${l.path} twice`)
    seen.add(l.path)
  }
  return { v: 1, kind: t.kind, files: t.files, links: t.links }
}

/**
 * Clones an environment written out at `src` into `dest` by hard links (or, across file
 * systems, copy-on-write clones): no file's bytes are copied where the file system can help,
 * and nothing is installed. Files are read-only, so a rank cannot change what others share.
 */
export async function cloneTree (tree: EnvironmentTree, src: string, dest: string): Promise<void> {
  const made = new Set<string>()
  const dir = async (d: string): Promise<void> => {
    if (made.has(d)) return
    await mkdir(d, { recursive: true, mode: 0o755 })
    made.add(d)
  }
  for (const f of tree.files) {
    const to = join(dest, f.path)
    await dir(dirname(to))
    try {
      await link(join(src, f.path), to)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new DataError(ErrorCode.DATA_CORRUPT, `environment file ${f.path} is already in the work dir (an input of the same name?)`)
      await copyFile(join(src, f.path), to, constants.COPYFILE_FICLONE)
      await chmod(to, f.exec ? 0o555 : 0o444)
    }
  }
  for (const l of tree.links) {
    const to = join(dest, l.path)
    await dir(dirname(to))
    await symlink(l.target, to)
  }
}
