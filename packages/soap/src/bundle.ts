import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path'
import { createHash } from 'node:crypto'
import { BadRequestError } from '@mvm/core'

import type { BundleFile } from './types.js'

export const BUNDLE_LIMITS = { maxFiles: 256, maxFileBytes: 16 * 1024 * 1024, maxTotalBytes: 64 * 1024 * 1024 } as const

/**
 * Bundle paths come from the network: a path that is absolute, climbs out with `..`, or names
 * a device must never be written. Returns the normalised relative path.
 */
export function safeBundlePath (p: string): string {
  if (p.length === 0 || p.length > 512) throw new BadRequestError(`bundle path "${p.slice(0, 40)}" must be 1-512 characters`)
  if (p.includes('\0')) throw new BadRequestError('bundle path contains a NUL byte')
  const unixish = p.replaceAll('\\', '/')
  if (isAbsolute(unixish) || /^[a-zA-Z]:/.test(unixish)) throw new BadRequestError(`bundle path "${p}" must be relative`)
  const n = normalize(unixish)
  if (n === '..' || n.startsWith('..' + sep) || n.split(sep).includes('..')) throw new BadRequestError(`bundle path "${p}" leaves the bundle directory`)
  return n
}

export function checkBundle (files: BundleFile[]): void {
  if (files.length > BUNDLE_LIMITS.maxFiles) throw new BadRequestError(`bundle has ${files.length} files; at most ${BUNDLE_LIMITS.maxFiles}`)
  let total = 0
  const seen = new Set<string>()
  for (const f of files) {
    const p = safeBundlePath(f.path)
    if (seen.has(p)) throw new BadRequestError(`bundle names "${p}" twice`)
    seen.add(p)
    if (f.content.byteLength > BUNDLE_LIMITS.maxFileBytes) throw new BadRequestError(`bundle file "${p}" is ${f.content.byteLength} bytes; at most ${BUNDLE_LIMITS.maxFileBytes}`)
    total += f.content.byteLength
  }
  if (total > BUNDLE_LIMITS.maxTotalBytes) throw new BadRequestError(`bundle is ${total} bytes; at most ${BUNDLE_LIMITS.maxTotalBytes}`)
}

/** Writes a checked bundle under `dir`; returns absolute paths by bundle path. */
export async function writeBundle (dir: string, files: BundleFile[]): Promise<Map<string, string>> {
  checkBundle(files)
  const out = new Map<string, string>()
  for (const f of files) {
    const rel = safeBundlePath(f.path)
    const abs = resolve(dir, rel)
    if (relative(dir, abs).startsWith('..')) throw new BadRequestError(`bundle path "${f.path}" leaves the bundle directory`)
    await mkdir(dirname(abs), { recursive: true })
    await writeFile(abs, f.content)
    out.set(rel, abs)
  }
  return out
}

/**
 * Reads files into a bundle rooted at their deepest common folder, so a profile that names
 * `../topologies/ring.yaml` still ships as relative paths (`profiles/x.yaml`, `topologies/ring.yaml`).
 */
export async function readBundle (paths: string[]): Promise<{ root: string, files: BundleFile[] }> {
  const abs = [...new Set(paths.map(x => resolve(x)))]
  const root = commonDir(abs)
  const files: BundleFile[] = []
  for (const p of abs) files.push({ path: safeBundlePath(relative(root, p)), content: new Uint8Array(await readFile(p)) })
  checkBundle(files)
  return { root, files }
}

function commonDir (paths: string[]): string {
  const parts = paths.map(p => dirname(p).split(sep))
  const first = parts[0] ?? []
  let n = first.length
  for (const p of parts) {
    let i = 0
    while (i < n && i < p.length && p[i] === first[i]) i++
    n = i
  }
  return first.slice(0, n).join(sep) || sep
}

/** Content hash of a bundle, independent of file order: identical bundles share one id. */
export function bundleDigest (files: BundleFile[]): string {
  const h = createHash('sha256')
  for (const f of [...files].sort((a, b) => a.path < b.path ? -1 : 1)) {
    h.update(safeBundlePath(f.path)); h.update('\0'); h.update(createHash('sha256').update(f.content).digest()); h.update('\0')
  }
  return h.digest('hex')
}

export function joinSafe (dir: string, p: string): string { return join(dir, safeBundlePath(p)) }
