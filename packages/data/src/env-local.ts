import { chmod, mkdir, readdir, rename, rm, stat, symlink, utimes } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { DataError, ErrorCode, silentLogger, type Logger } from '@mvm/core'
import type { EnvironmentCounters } from './env-build.js'
import { cloneTree, decodeTree, type EnvironmentTree } from './env-tree.js'
import type { DataService, DataStore, Holder } from './types.js'

/** Environments written out on a peer, ready to be hard-linked into work dirs. */
export interface EnvironmentCache {
  /** The environment's folder on this node: written once from the store (fetching what is missing), then reused. */
  ensure: (id: string, holders: Holder[], opts?: { signal?: AbortSignal }) => Promise<{ dir: string, tree: EnvironmentTree }>
  /** Hard-links an environment `ensure` returned into a work dir (see cloneTree). */
  place: (env: { dir: string, tree: EnvironmentTree }, workDir: string) => Promise<void>
}

/** Environments kept written out per node; past it the least recently used folder goes (work dirs keep their hard links). */
export const MAX_WRITTEN_ENVIRONMENTS = 8

export interface EnvironmentCacheInit {
  store: DataStore
  service: DataService
  /** Parent of the written environments (one folder per tree id). */
  dir: string
  counters: EnvironmentCounters
  log?: Logger
  /** Default MAX_WRITTEN_ENVIRONMENTS. */
  maxWritten?: number
}

export function createEnvironmentCache (init: EnvironmentCacheInit): EnvironmentCache {
  const log = init.log ?? silentLogger()
  const trees = new Map<string, EnvironmentTree>()
  const writing = new Map<string, Promise<{ dir: string, tree: EnvironmentTree }>>()

  const readTree = async (id: string, holders: Holder[], signal: AbortSignal | undefined): Promise<EnvironmentTree> => {
    const known = trees.get(id)
    if (known !== undefined) return known
    await init.service.fetch(id, holders, signal === undefined ? {} : { signal })
    const tree = decodeTree(await init.store.readRange(id, 0, init.store.get(id)?.size ?? 0))
    trees.set(id, tree)
    return tree
  }

  const write = async (id: string, holders: Holder[], signal: AbortSignal | undefined): Promise<{ dir: string, tree: EnvironmentTree }> => {
    const dir = join(init.dir, id)
    const tree = await readTree(id, holders, signal)
    const tmp = `${dir}.${randomBytes(4).toString('hex')}.tmp`
    try {
      for (const f of tree.files) {
        await init.service.fetch(f.id, holders, signal === undefined ? {} : { signal })
        const to = join(tmp, f.path)
        await mkdir(dirname(to), { recursive: true })
        await init.store.materialize(f.id, to, signal === undefined ? {} : { signal })
        await chmod(to, f.exec ? 0o555 : 0o444)
      }
      for (const l of tree.links) {
        await mkdir(dirname(join(tmp, l.path)), { recursive: true })
        await symlink(l.target, join(tmp, l.path))
      }
      await mkdir(tmp, { recursive: true })
      await rename(tmp, dir)
    } catch (err) {
      await rm(tmp, { recursive: true, force: true })
      // another process of this node wrote it first
      if ((err as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (err as NodeJS.ErrnoException).code === 'EEXIST') return { dir, tree }
      throw err
    }
    init.counters.written++
    log.info({ id, files: tree.files.length }, 'environment written out')
    await trim(id)
    return { dir, tree }
  }

  /** Removes the least recently used written environments past the bound (never one being written or just used). */
  const trim = async (keep: string): Promise<void> => {
    const max = init.maxWritten ?? MAX_WRITTEN_ENVIRONMENTS
    const names = (await readdir(init.dir).catch(() => [] as string[])).filter((n) => /^[0-9a-f]{64}$/.test(n) && n !== keep && !writing.has(n))
    if (names.length + 1 <= max) return
    const aged = await Promise.all(names.map(async (n) => ({ n, at: (await stat(join(init.dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })))
    aged.sort((a, b) => a.at - b.at)
    for (const { n } of aged.slice(0, names.length + 1 - max)) {
      trees.delete(n)
      await rm(join(init.dir, n), { recursive: true, force: true })
      log.debug({ id: n }, 'environment folder removed (least recently used)')
    }
  }

  return {
    async place (env, workDir) { await cloneTree(env.tree, env.dir, workDir) },
    async ensure (id, holders, opts = {}) {
      const dir = join(init.dir, id)
      if (await stat(dir).then((s) => s.isDirectory(), () => false)) {
        init.counters.reused++
        const now = new Date()
        await utimes(dir, now, now).catch(() => {})
        return { dir, tree: await readTree(id, holders, opts.signal) }
      }
      let p = writing.get(id)
      if (p === undefined) {
        p = write(id, holders, opts.signal)
        writing.set(id, p)
        void p.catch(() => {}).finally(() => { writing.delete(id) })
      }
      try { return await p } catch (err) {
        throw new DataError(ErrorCode.DATA_UNAVAILABLE, `environment ${id.slice(0, 12)} could not be written out here: ${(err as Error).message}`, { cause: err })
      }
    }
  }
}
