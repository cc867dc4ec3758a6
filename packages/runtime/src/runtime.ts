import { join } from 'node:path'
import { silentLogger, throwIfAborted } from '@mvm/core'
import { createSandboxPool, resolveDriver, type Sandbox, type SandboxPool } from '@mvm/sandbox'
import { readFile } from 'node:fs/promises'
import { compileProgram, type Compiled, type ProgramSource } from './compile.js'
import { createInstance } from './instance.js'
import { rankHostEntry, rankHostReadPaths, sdkUrl } from './paths.js'
import { validateInstanceSpec } from './validate.js'
import type { RunningJob, Runtime, RuntimeInit } from './types.js'

/** A warm pair covers the common 2-rank launch; more costs ~40 MiB of idle RSS each. */
export const DEFAULT_POOL_SIZE = 2
/** Matches the jobs' default `resources.memoryMB`, so a profile that does not set it is served warm. */
export const DEFAULT_POOL_MEMORY_MB = 256
/** Compiled programs (and their code) kept in memory, oldest dropped first. */
const COMPILED_KEPT = 64
/** Released processes kept for their owners: enough for two 2-rank jobs in flight per node. */
export const DEFAULT_REUSE_MAX = 4

export function createRuntime (init: RuntimeInit): Runtime {
  const log = (init.logger ?? silentLogger()).child({ component: 'runtime' })
  const cacheDir = join(init.dataDir, 'cache')
  const live = new Set<RunningJob>()
  let ownPool: Promise<SandboxPool> | undefined
  // read synchronously by metrics; absent until the first job starts the pool
  let started: SandboxPool | undefined = init.pool
  const reuse = init.reuseForSameOwner ?? true

  // no job machinery until a job needs it (step a): the pool starts with the first instance
  const pool = async (): Promise<SandboxPool> => {
    if (init.pool !== undefined) return init.pool
    ownPool ??= resolveDriver(init.driver ?? 'process').then((driver) => createSandboxPool({
      driver,
      entry: rankHostEntry,
      size: init.poolSize ?? DEFAULT_POOL_SIZE,
      limits: { memoryMB: init.poolMemoryMB ?? DEFAULT_POOL_MEMORY_MB },
      baseDir: join(init.dataDir, 'sandboxes'),
      logDir: join(init.dataDir, 'logs'),
      readPaths: rankHostReadPaths(),
      reuseMax: reuse ? (init.reuseMax ?? Math.max(DEFAULT_REUSE_MAX, 2 * (init.poolSize ?? DEFAULT_POOL_SIZE))) : 0,
      logger: log
    }))
    started = await ownPool
    return started
  }
  // the warm path: a program this runtime compiled before costs no file system round trip
  const known = new Map<string, Promise<Compiled>>()
  const compile = async (program: ProgramSource): Promise<Compiled> => {
    const key = `${program?.language}\0${program?.source}`
    let c = known.get(key)
    if (c === undefined) {
      c = compileProgram(program, { cacheDir, sdkUrl }).then(async (out) => ({ ...out, code: await readFile(out.codePath, 'utf8') }))
      c.catch(() => { known.delete(key) })
      known.set(key, c)
      if (known.size > COMPILED_KEPT) known.delete(known.keys().next().value!)
    }
    return await c
  }

  // a process is reused only after a rank in it succeeded, i.e. after its import worked
  const imported = new WeakMap<Sandbox, Set<string>>()
  const loaded = (sb: Sandbox, hash: string): boolean => {
    let set = imported.get(sb)
    if (set === undefined) { set = new Set(); imported.set(sb, set) }
    if (set.has(hash)) return true
    set.add(hash)
    return false
  }

  return {
    dataDir: init.dataDir,
    compile,
    async instantiate (spec, link, options = {}) {
      throwIfAborted(options.signal)
      validateInstanceSpec(spec)
      const inst = createInstance({ dataDir: init.dataDir, pool, compile, log, reuse, loaded, onDone: () => live.delete(inst), ...(options.files === undefined ? {} : { files: options.files }) }, spec, link)
      live.add(inst)
      return inst
    },
    portStats: () => [...live].flatMap((i) => i.portStats()),
    poolStats: () => started?.stats(),
    async stop () {
      await Promise.all([...live].map(async (i) => await i.terminate('runtime stopping')))
      if (ownPool !== undefined) await (await ownPool).stop()
    }
  }
}
