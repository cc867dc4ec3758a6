import { execFile } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { AbortError, BadRequestError, DataError, ErrorCode, silentLogger, throwIfAborted, type Logger } from '@mvm/core'
import { decodeTree, encodeTree, linkStaysInside, safeRelative, type EnvironmentTree, type TreeFile, type TreeLink } from './env-tree.js'
import type { DataStore } from './types.js'

/** How long one `npm ci` may take before the build is given up. */
const NPM_TIMEOUT_MS = 10 * 60_000

/** What the environment layer of a node has done since it started (the heartbeat carries it). */
export interface EnvironmentCounters {
  /** Environments built here (`npm ci` runs, or folder trees recorded). */
  builds: number
  /** Jobs whose environment was ready: no build on a super-peer, no fetch nor write on a peer. */
  reused: number
  /** Environments written out on this node from the store (once per node and environment). */
  written: number
}

export const newEnvironmentCounters = (): EnvironmentCounters => ({ builds: 0, reused: 0, written: 0 })

/** A file of the submitted environment folder: its path under the folder and its content id. */
export interface EnvironmentSource { path: string, id: string }

export interface EnvironmentRegistry {
  /**
   * The environment for these source files: found by its key (the lockfile's content id for
   * npm, the file list for a folder), else built once (concurrent callers share the build)
   * and its tree stored, pinned, under `env:<key>`.
   */
  resolve: (kind: EnvironmentTree['kind'], files: EnvironmentSource[], opts?: ResolveOptions) => Promise<{ id: string, key: string, built: boolean }>
  /**
   * The key these sources build under and, when it is built (tree and files all in the
   * store), its tree's id; never builds. Checks the sources as `resolve` does.
   */
  lookup: (kind: EnvironmentTree['kind'], files: EnvironmentSource[], opts?: Pick<ResolveOptions, 'packages'>) => Promise<{ key: string, id?: string }>
}

export interface ResolveOptions {
  signal?: AbortSignal
  /**
   * An npm environment given as packages (name → version or range, or `file:<path>` of a
   * tarball among `files`): a package.json naming them is written and `npm install` runs; the
   * key is the hash of the sorted list, a `file:` tarball counted by its content id.
   */
  packages?: Record<string, string>
}

/** npm's rule for a package name (scoped or not), kept short. */
const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/

export interface EnvironmentRegistryInit {
  store: DataStore
  /** Where builds run and the key → tree index is kept. */
  dir: string
  counters: EnvironmentCounters
  log?: Logger
  /** The npm command (default `npm` from PATH). */
  npm?: string
}

export function createEnvironmentRegistry (init: EnvironmentRegistryInit): EnvironmentRegistry {
  return new Registry(init)
}

const keyOf = (kind: string, parts: string): string => createHash('sha256').update(`${kind}\0${parts}`).digest('hex')

class Registry implements EnvironmentRegistry {
  private readonly log: Logger
  private readonly indexPath: string
  private index: Record<string, string> | undefined
  private readonly building = new Map<string, Promise<string>>()

  constructor (private readonly init: EnvironmentRegistryInit) {
    this.log = init.log ?? silentLogger()
    this.indexPath = join(init.dir, 'environments.json')
  }

  private async known (): Promise<Record<string, string>> {
    if (this.index !== undefined) return this.index
    try { this.index = JSON.parse(await readFile(this.indexPath, 'utf8')) as Record<string, string> } catch { this.index = {} }
    return this.index
  }

  async lookup (kind: EnvironmentTree['kind'], files: EnvironmentSource[], opts: Pick<ResolveOptions, 'packages'> = {}): Promise<{ key: string, id?: string }> {
    const key = this.keyFor(kind, files, opts.packages)
    const have = (await this.known())[key]
    return have !== undefined && await this.complete(have) ? { key, id: have } : { key }
  }

  private keyFor (kind: EnvironmentTree['kind'], files: EnvironmentSource[], packages: Record<string, string> | undefined): string {
    for (const f of files) if (!safeRelative(f.path)) throw new BadRequestError(`environment file ${JSON.stringify(f.path)} leaves the environment's folder`)
    if (kind === 'npm' && packages !== undefined) return keyOf('npm-packages', JSON.stringify(packageKey(packages, files)))
    if (kind === 'npm') {
      const lock = files.find((f) => f.path === 'package-lock.json')
      if (lock === undefined || !files.some((f) => f.path === 'package.json')) throw new BadRequestError('an npm environment needs package.json and package-lock.json')
      return keyOf('npm', lock.id)
    }
    return keyOf('folder', JSON.stringify([...files].sort((a, b) => a.path < b.path ? -1 : 1).map((f) => [f.path, f.id])))
  }

  async resolve (kind: EnvironmentTree['kind'], files: EnvironmentSource[], opts: ResolveOptions = {}): Promise<{ id: string, key: string, built: boolean }> {
    const key = this.keyFor(kind, files, opts.packages)
    const index = await this.known()
    const have = index[key]
    if (have !== undefined && await this.complete(have)) {
      this.init.counters.reused++
      return { id: have, key, built: false }
    }
    let p = this.building.get(key)
    if (p === undefined) {
      p = this.build(kind, key, files, opts.signal, opts.packages)
      this.building.set(key, p)
      void p.catch(() => {}).finally(() => { this.building.delete(key) })
    }
    const id = await p
    return { id, key, built: true }
  }

  /** The tree and every file it names are still in the store (pinned, so only a user's `rm` removes them). */
  private async complete (id: string): Promise<boolean> {
    if (this.init.store.get(id) === undefined) return false
    try {
      const tree = decodeTree(await this.init.store.readRange(id, 0, this.init.store.get(id)!.size))
      return tree.files.every((f) => this.init.store.get(f.id) !== undefined)
    } catch { return false }
  }

  private async build (kind: EnvironmentTree['kind'], key: string, files: EnvironmentSource[], signal: AbortSignal | undefined, packages: Record<string, string> | undefined): Promise<string> {
    const pin = `env:${key}`
    const t0 = Date.now()
    const tree = kind === 'npm'
      ? await this.npmTree(key, files, pin, signal, packages)
      : { v: 1 as const, kind, files: await Promise.all(files.map(async (f) => await this.fileOf(f, pin))), links: [] }
    const e = await this.init.store.importBytes(encodeTree(tree), { name: pin, pin })
    const index = await this.known()
    index[key] = e.id
    await mkdir(this.init.dir, { recursive: true })
    const tmp = `${this.indexPath}.${randomBytes(4).toString('hex')}`
    await writeFile(tmp, JSON.stringify(index))
    await rename(tmp, this.indexPath)
    this.init.counters.builds++
    this.log.info({ key, id: e.id, kind, files: tree.files.length, ms: Date.now() - t0 }, 'environment built')
    return e.id
  }

  private async fileOf (f: EnvironmentSource, pin: string): Promise<TreeFile> {
    const e = this.init.store.get(f.id)
    if (e === undefined) throw new DataError(ErrorCode.DATA_MISSING, `environment file ${f.path} (${f.id}) is not in this store`)
    await this.init.store.pin(f.id, pin)
    return { path: f.path, id: f.id, size: e.size, exec: false }
  }

  /**
   * Writes the sources out, runs `npm ci` there once (or, for a package list, writes the
   * package.json naming them and runs `npm install`), and stores what it installed.
   */
  private async npmTree (key: string, files: EnvironmentSource[], pin: string, signal: AbortSignal | undefined, packages: Record<string, string> | undefined): Promise<EnvironmentTree> {
    const work = join(this.init.dir, 'builds', `${key.slice(0, 16)}-${randomBytes(4).toString('hex')}`)
    try {
      for (const f of files) {
        const to = join(work, f.path)
        await mkdir(dirname(to), { recursive: true })
        await this.init.store.materialize(f.id, to, signal === undefined ? {} : { signal })
      }
      if (packages !== undefined) {
        const dependencies = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
        await mkdir(work, { recursive: true })
        await writeFile(join(work, 'package.json'), JSON.stringify({ name: 'mvm-environment', version: '0.0.0', private: true, dependencies }, null, 2))
      }
      await this.npm(work, packages === undefined ? 'ci' : 'install', signal)
      const out: TreeFile[] = []
      const links: TreeLink[] = []
      await this.collect(join(work, 'node_modules'), 'node_modules', out, links, pin, signal)
      return { v: 1, kind: 'npm', files: out, links }
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }

  private async npm (cwd: string, command: 'ci' | 'install', signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal)
    const cache = join(this.init.dir, 'npm-cache')
    // no lifecycle scripts (a build must not run code of the job's packages on the super-peer);
    // the cache is the node's own, so a lockfile built before installs without the network
    const args = [command, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-bin-links', '--cache', cache]
    await new Promise<void>((resolve, reject) => {
      execFile(this.init.npm ?? 'npm', args, { cwd, timeout: NPM_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, ...(signal === undefined ? {} : { signal }) }, (err, _out, stderr) => {
        if (err === null) { resolve(); return }
        if (signal?.aborted === true) { reject(new AbortError('the environment build was aborted')); return }
        reject(new BadRequestError(`npm ${command} of the environment failed: ${String(stderr).trim().split('\n').slice(-5).join(' | ') || err.message}`))
      })
    })
  }

  private async collect (abs: string, rel: string, files: TreeFile[], links: TreeLink[], pin: string, signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal)
    let names: string[]
    try { names = (await readdir(abs)).sort() } catch { return }
    for (const name of names) {
      const a = join(abs, name)
      const r = `${rel}/${name}`
      const s = await lstat(a)
      if (s.isSymbolicLink()) {
        const target = await readlink(a)
        if (linkStaysInside(r, target)) links.push({ path: r, target })
        else this.log.warn({ path: r, target }, 'environment: a link leaving the environment is left out')
      } else if (s.isDirectory()) {
        await this.collect(a, r, files, links, pin, signal)
      } else if (s.isFile()) {
        const e = await this.init.store.importFile(a, { name: `${pin}/${r}`, pin, ...(signal === undefined ? {} : { signal }) })
        files.push({ path: r, id: e.id, size: e.size, exec: (s.mode & 0o111) !== 0 })
      }
    }
  }
}

/**
 * The build key's list: [name, spec] sorted by name, a `file:` spec by the content id of the
 * tarball it names (so a changed tarball is another environment). Checks names and specs.
 */
function packageKey (packages: Record<string, string>, files: EnvironmentSource[]): Array<[string, string]> {
  const entries = Object.entries(packages)
  if (entries.length === 0) throw new BadRequestError('an npm environment given as packages names none')
  const out: Array<[string, string]> = []
  for (const [name, spec] of entries) {
    if (!NPM_NAME.test(name) || name.length > 214) throw new BadRequestError(`environment package name ${JSON.stringify(name)} is not an npm package name`)
    if (typeof spec !== 'string' || spec.trim() === '' || spec.length > 256) throw new BadRequestError(`environment package ${name}: the version must be a non-empty string`)
    if (spec.startsWith('file:')) {
      const f = files.find((x) => x.path === spec.slice(5))
      if (f === undefined) throw new BadRequestError(`environment package ${name}: ${spec} did not come with the submission`)
      out.push([name, `file:${f.id}`])
    } else {
      out.push([name, spec])
    }
  }
  return out.sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
}
