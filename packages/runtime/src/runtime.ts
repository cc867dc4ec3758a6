import { join } from 'node:path'
import { silentLogger, throwIfAborted } from '@mvm/core'
import { createSandboxPool, resolveDriver, type SandboxPool } from '@mvm/sandbox'
import { compileProgram } from './compile.js'
import { createInstance } from './instance.js'
import { rankHostEntry, rankHostReadPaths, sdkUrl } from './paths.js'
import { validateInstanceSpec } from './validate.js'
import type { RunningJob, Runtime, RuntimeInit } from './types.js'

/** A warm pair covers the common 2-rank launch; more costs ~40 MiB of idle RSS each. */
export const DEFAULT_POOL_SIZE = 2
/** Matches the jobs' default `resources.memoryMB`, so a profile that does not set it is served warm. */
export const DEFAULT_POOL_MEMORY_MB = 256
/** Released processes kept for their owners: enough for two 2-rank jobs in flight per node. */
export const DEFAULT_REUSE_MAX = 4

export function createRuntime (init: RuntimeInit): Runtime {
  const log = (init.logger ?? silentLogger()).child({ component: 'runtime' })
  const cacheDir = join(init.dataDir, 'cache')
  const live = new Set<RunningJob>()
  let ownPool: Promise<SandboxPool> | undefined
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
    return await ownPool
  }
  const compile = async (program: Parameters<Runtime['compile']>[0]): ReturnType<Runtime['compile']> => await compileProgram(program, { cacheDir, sdkUrl })

  return {
    dataDir: init.dataDir,
    compile,
    async instantiate (spec, link, options = {}) {
      throwIfAborted(options.signal)
      validateInstanceSpec(spec)
      const inst = createInstance({ dataDir: init.dataDir, pool, compile, log, reuse, onDone: () => live.delete(inst) }, spec, link)
      live.add(inst)
      return inst
    },
    async stop () {
      await Promise.all([...live].map(async (i) => await i.terminate('runtime stopping')))
      if (ownPool !== undefined) await (await ownPool).stop()
    }
  }
}
