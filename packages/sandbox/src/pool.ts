import { randomBytes } from 'node:crypto'
import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { BadRequestError, InvalidStateError, silentLogger, throwIfAborted, type Logger } from '@mvm/core'
import { logPaths } from './launch.js'
import { validateLimits } from './spec.js'
import type { ManagedSandbox } from './child-sandbox.js'
import type { Sandbox, SandboxDriver, SandboxLimits } from './types.js'

export interface SandboxPoolInit {
  driver: SandboxDriver
  /** The module every pooled process runs; it must wait for the caller's first IPC message. */
  entry: string
  /** Processes kept started and idle; 0 = every acquire spawns cold. */
  size: number
  /** Each sandbox gets a fresh private `<baseDir>/sbx-<random>` workDir. */
  baseDir: string
  /** The memory class (memoryMB, maxProcesses) warm processes are started with. */
  limits?: SandboxLimits
  readPaths?: string[]
  logDir: string
  args?: string[]
  /** Environment of warm processes (fixed at spawn). */
  env?: Record<string, string>
  logger?: Logger
}

export interface AcquireRequest {
  id: string
  /** Per-job variables; a warm process cannot take them, so a non-empty env spawns cold. */
  env?: Record<string, string>
  limits: SandboxLimits
  signal?: AbortSignal
}

export interface PoolStats { idle: number, starting: number, active: number, warmHits: number, coldStarts: number }

export interface SandboxPool {
  /** A warm process when its memory class matches, otherwise a cold one. The caller kills it after use. */
  acquire: (req: AcquireRequest) => Promise<Sandbox>
  /** Resolves when `size` processes are idle (or the pool stops). */
  ready: (options?: { signal?: AbortSignal }) => Promise<void>
  stats: () => PoolStats
  /** Kills idle and handed-out sandboxes and waits until all are reaped. */
  stop: () => Promise<void>
}

const MAX_IDLE_DEATHS = 3

function isManaged (s: Sandbox): s is ManagedSandbox {
  return typeof (s as Partial<ManagedSandbox>).assign === 'function'
}

export function createSandboxPool (init: SandboxPoolInit): SandboxPool {
  if (!Number.isInteger(init.size) || init.size < 0) throw new BadRequestError(`sandbox pool size: ${String(init.size)} must be an integer >= 0`)
  validateLimits(init.limits ?? {}, 'pool.limits')
  const log = init.logger ?? silentLogger()
  const memClass = init.limits?.memoryMB
  const idle: ManagedSandbox[] = []
  const active = new Set<Sandbox>()
  const stopCtl = new AbortController()
  let starting = 0
  let idleDeaths = 0
  let warmHits = 0
  let coldStarts = 0
  let waiters: Array<() => void> = []

  const freshDir = (): { name: string, workDir: string } => {
    const name = `sbx-${randomBytes(8).toString('hex')}`
    return { name, workDir: join(init.baseDir, name) }
  }

  const spawnOne = async (id: string, workDir: string, limits: SandboxLimits, env?: Record<string, string>, signal?: AbortSignal): Promise<Sandbox> => {
    const spec = { id, entry: init.entry, workDir, logDir: init.logDir, limits, ...(init.args === undefined ? {} : { args: init.args }), ...(init.readPaths === undefined ? {} : { readPaths: init.readPaths }), env: { ...init.env, ...env } }
    return await init.driver.spawn(spec, signal === undefined ? {} : { signal })
  }

  const notify = (): void => { const w = waiters; waiters = []; for (const f of w) f() }

  const inflight = new Set<Promise<unknown>>()

  const adopt = (sb: Sandbox): void => {
    if (!isManaged(sb)) {
      log.warn({ driver: init.driver.name }, 'driver sandboxes cannot be re-assigned; the pool stays cold')
      idleDeaths = MAX_IDLE_DEATHS
      void sb.kill('killed', { graceMs: 0 })
      return
    }
    idle.push(sb)
    void sb.exited.then((info) => {
      const i = idle.indexOf(sb)
      if (i < 0) return
      idle.splice(i, 1)
      if (!stopCtl.signal.aborted) {
        idleDeaths++
        log.warn({ sandbox: sb.id, reason: info.reason, message: info.message }, 'idle pooled sandbox exited')
        void rm(sb.workDir, { recursive: true, force: true })
      }
      refill()
    })
  }

  /** Tops the pool up in the background; stops trying after a few warm processes die idle. */
  const refill = (): void => {
    if (stopCtl.signal.aborted || idleDeaths >= MAX_IDLE_DEATHS || idle.length + starting >= init.size) return notify()
    starting++
    const { name, workDir } = freshDir()
    // only the memory class is fixed at spawn; time limits start counting at acquire
    const p = spawnOne(name, workDir, { memoryMB: memClass, maxProcesses: init.limits?.maxProcesses }, undefined, stopCtl.signal).then(async (sb) => {
      starting--
      if (stopCtl.signal.aborted) { await sb.kill('killed', { graceMs: 0 }); await rm(workDir, { recursive: true, force: true }); return }
      adopt(sb)
      refill()
    }, async (err: unknown) => {
      starting--
      await rm(workDir, { recursive: true, force: true })
      if (stopCtl.signal.aborted) return
      idleDeaths++
      log.warn({ err }, 'could not pre-start a pooled sandbox')
      refill()
    }).finally(() => inflight.delete(p))
    inflight.add(p)
  }

  const track = (sb: Sandbox): Sandbox => {
    active.add(sb)
    void sb.exited.then(() => active.delete(sb))
    return sb
  }

  refill()

  return {
    async acquire (req) {
      throwIfAborted(req.signal)
      if (stopCtl.signal.aborted) throw new InvalidStateError('sandbox pool is stopped')
      validateLimits(req.limits ?? {}, 'limits')
      const wantsEnv = req.env !== undefined && Object.keys(req.env).length > 0
      if (!wantsEnv && req.limits?.memoryMB === memClass) {
        const sb = idle.shift()
        if (sb !== undefined) {
          const logs = logPaths(init.logDir, req.id)
          try {
            await rename(sb.logs.out, logs.out)
            await rename(sb.logs.err, logs.err)
          } catch (err) {
            log.warn({ err, sandbox: sb.id }, 'could not rename pooled sandbox logs')
          }
          sb.assign(req.id, logs, req.limits ?? {})
          warmHits++
          idleDeaths = 0
          refill()
          return track(sb)
        }
      }
      coldStarts++
      idleDeaths = 0
      refill()
      const sb = await spawnOne(req.id, freshDir().workDir, req.limits ?? {}, req.env, req.signal)
      return track(sb)
    },
    async ready (options = {}) {
      while (!stopCtl.signal.aborted && idle.length < init.size && idleDeaths < MAX_IDLE_DEATHS) {
        throwIfAborted(options.signal)
        await new Promise<void>((resolve) => {
          const onAbort = (): void => resolve()
          options.signal?.addEventListener('abort', onAbort, { once: true })
          waiters.push(() => { options.signal?.removeEventListener('abort', onAbort); resolve() })
        })
      }
      throwIfAborted(options.signal)
    },
    stats: () => ({ idle: idle.length, starting, active: active.size, warmHits, coldStarts }),
    async stop () {
      stopCtl.abort()
      notify()
      const unused = idle.splice(0)
      await Promise.all([...unused, ...active].map(async (sb) => await sb.kill('killed', { graceMs: 500 })))
      await Promise.all(unused.map(async (sb) => await rm(sb.workDir, { recursive: true, force: true })))
      // spawns in flight see the aborted signal and kill what they started
      await Promise.allSettled([...inflight])
    }
  }
}
