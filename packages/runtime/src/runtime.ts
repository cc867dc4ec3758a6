import { join } from 'node:path'
import { silentLogger, throwIfAborted } from '@mvm/core'
import { createSandboxPool, resolveDriver, type SandboxPool } from '@mvm/sandbox'
import { compileProgram } from './compile.js'
import { createInstance } from './instance.js'
import { rankHostEntry, rankHostReadPaths, sdkUrl } from './paths.js'
import { validateInstanceSpec } from './validate.js'
import type { JobInstance, Runtime, RuntimeInit } from './types.js'

export function createRuntime (init: RuntimeInit): Runtime {
  const log = (init.logger ?? silentLogger()).child({ component: 'runtime' })
  const cacheDir = join(init.dataDir, 'cache')
  const live = new Set<JobInstance>()
  let ownPool: Promise<SandboxPool> | undefined

  // no job machinery until a job needs it (step a): the pool starts with the first instance
  const pool = async (): Promise<SandboxPool> => {
    if (init.pool !== undefined) return init.pool
    ownPool ??= resolveDriver(init.driver ?? 'process').then((driver) => createSandboxPool({
      driver,
      entry: rankHostEntry,
      size: init.poolSize ?? 0,
      baseDir: join(init.dataDir, 'sandboxes'),
      logDir: join(init.dataDir, 'logs'),
      readPaths: rankHostReadPaths(),
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
      const inst = createInstance({ dataDir: init.dataDir, pool, compile, log, onDone: () => live.delete(inst) }, spec, link)
      live.add(inst)
      return inst
    },
    async stop () {
      await Promise.all([...live].map(async (i) => await i.terminate('runtime stopping')))
      if (ownPool !== undefined) await (await ownPool).stop()
    }
  }
}
