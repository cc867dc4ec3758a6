import { randomBytes } from 'node:crypto'
import { copyFile, link, readdir, rename, rm, truncate } from 'node:fs/promises'
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
  /**
   * How many released processes (see `release`) are kept parked for their owner's next rank;
   * 0 (default) turns reuse off. Each costs a Node process's idle RSS.
   */
  reuseMax?: number
  /** A parked process nobody claims within this long is killed (default 30 s). */
  reuseIdleMs?: number
  logger?: Logger
}

export interface AcquireRequest {
  id: string
  /** Per-job variables; a warm process cannot take them, so a non-empty env spawns cold. */
  env?: Record<string, string>
  limits: SandboxLimits
  /** Who the rank runs for: a process released by this owner (same memory class) is handed out first. */
  owner?: string
  signal?: AbortSignal
}

export interface PoolStats { idle: number, starting: number, active: number, warmHits: number, coldStarts: number, parked: number, reuseHits: number }

export interface SandboxPool {
  /** A warm process when its memory class matches, otherwise a cold one. The caller kills it after use. */
  acquire: (req: AcquireRequest) => Promise<Sandbox>
  /** Resolves when `size` processes are idle (or the pool stops). */
  ready: (options?: { signal?: AbortSignal }) => Promise<void>
  /**
   * Takes back a handed-out sandbox whose work ended cleanly, to serve `owner`'s next rank:
   * its work dir is emptied, its logs are kept under the finished id, its time limits are
   * lifted until the next acquire. Returns false (and kills it) when it cannot be reused:
   * reuse off, no owner, exited or condemned, or the work dir could not be wiped.
   */
  release: (sb: Sandbox, owner: string | undefined) => Promise<boolean>
  stats: () => PoolStats
  /** Kills idle and handed-out sandboxes and waits until all are reaped. */
  stop: () => Promise<void>
}

const MAX_IDLE_DEATHS = 3
const DEFAULT_REUSE_IDLE_MS = 30_000

interface Parked { sb: ManagedSandbox, owner: string, memoryMB: number | undefined, timer: NodeJS.Timeout }

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
  let reuseHits = 0
  let parkSeq = 0
  const reuseMax = init.reuseMax ?? 0
  const parked: Parked[] = []
  const releasing = new Map<string, Set<Promise<boolean>>>()
  const memOf = new WeakMap<Sandbox, number | undefined>()
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

  const track = (sb: Sandbox, memoryMB: number | undefined): Sandbox => {
    memOf.set(sb, memoryMB)
    active.add(sb)
    void sb.exited.then(() => active.delete(sb))
    return sb
  }

  /** The process's log files become the new id's (it keeps writing to the same files). */
  const handOver = async (sb: ManagedSandbox, req: AcquireRequest): Promise<void> => {
    const logs = logPaths(init.logDir, req.id)
    try {
      await Promise.all([rename(sb.logs.out, logs.out), rename(sb.logs.err, logs.err)])
    } catch (err) {
      log.warn({ err, sandbox: sb.id }, 'could not rename pooled sandbox logs')
    }
    sb.assign(req.id, logs, req.limits ?? {})
  }

  const evict = (p: Parked): void => {
    const i = parked.indexOf(p)
    if (i >= 0) parked.splice(i, 1)
    clearTimeout(p.timer)
    const logs = p.sb.logs
    void p.sb.kill('killed', { graceMs: 0 }).then(async () => {
      await Promise.all([p.sb.workDir, logs.out, logs.err].map(async (f) => { await rm(f, { recursive: true, force: true }) }))
    })
  }

  /**
   * The finished id keeps its own copy of the logs; the files the process writes to move to a
   * parking name and are emptied (opened O_APPEND, so later writes land at the new start).
   */
  const park = async (sb: ManagedSandbox): Promise<void> => {
    const done = sb.logs
    const logs = logPaths(init.logDir, `${sb.id}.parked-${++parkSeq}`)
    // the finished id's name never disappears (a reader of its logs may come at any moment): the
    // open file gets a second name, a copy replaces the first name atomically, then it is emptied
    const shuffle = async (k: 'out' | 'err'): Promise<void> => {
      await link(done[k], logs[k])
      await copyFile(done[k], `${done[k]}.copy`)
      await rename(`${done[k]}.copy`, done[k])
      await truncate(logs[k], 0)
    }
    // what the last job left in its private dir must not reach the next one
    const wipe = async (): Promise<void> => {
      await Promise.all((await readdir(sb.workDir)).map(async (f) => { await rm(join(sb.workDir, f), { recursive: true, force: true }) }))
    }
    await Promise.all([shuffle('out'), shuffle('err'), wipe()])
    sb.assign(sb.id, logs, {})
  }

  const releaseOne = async (sb: Sandbox, owner: string | undefined): Promise<boolean> => {
    const memoryMB = memOf.get(sb)
    active.delete(sb)
    const refuse = async (why: string): Promise<false> => {
      log.debug({ sandbox: sb.id, why }, 'sandbox not kept for reuse')
      await sb.kill('killed', { graceMs: 0 })
      await rm(sb.workDir, { recursive: true, force: true })
      return false
    }
    if (reuseMax <= 0 || owner === undefined || stopCtl.signal.aborted) return await refuse('reuse off')
    if (!isManaged(sb) || !sb.usable) return await refuse('exited or condemned')
    try { await park(sb) } catch (err) { log.warn({ err, sandbox: sb.id }, 'could not reset a sandbox for reuse'); return await refuse('reset failed') }
    // checked again: it may have died or hit a limit while its files were being reset
    if (!sb.usable || stopCtl.signal.aborted) return await refuse('exited while parking')
    while (parked.length >= reuseMax) evict(parked[0]!)
    const p: Parked = { sb, owner, memoryMB, timer: setTimeout(() => evict(p), init.reuseIdleMs ?? DEFAULT_REUSE_IDLE_MS) }
    p.timer.unref()
    parked.push(p)
    void sb.exited.then(() => { if (parked.includes(p)) evict(p) })
    return true
  }

  refill()

  return {
    async release (sb, owner) {
      // registered before the first await: an acquire for this owner right after waits for it
      const p = releaseOne(sb, owner)
      if (owner === undefined) return await p
      let set = releasing.get(owner)
      if (set === undefined) { set = new Set(); releasing.set(owner, set) }
      set.add(p)
      try { return await p } finally { set.delete(p); if (set.size === 0) releasing.delete(owner) }
    },
    async acquire (req) {
      throwIfAborted(req.signal)
      if (stopCtl.signal.aborted) throw new InvalidStateError('sandbox pool is stopped')
      validateLimits(req.limits ?? {}, 'limits')
      const wantsEnv = req.env !== undefined && Object.keys(req.env).length > 0
      const back = req.owner === undefined ? undefined : releasing.get(req.owner)
      if (back !== undefined && !wantsEnv) await Promise.allSettled([...back])
      const mine = wantsEnv || req.owner === undefined ? -1 : parked.findIndex((p) => p.owner === req.owner && p.memoryMB === req.limits?.memoryMB && p.sb.usable)
      if (mine >= 0) {
        const [p] = parked.splice(mine, 1)
        clearTimeout(p!.timer)
        await handOver(p!.sb, req)
        reuseHits++
        return track(p!.sb, p!.memoryMB)
      }
      if (!wantsEnv && req.limits?.memoryMB === memClass) {
        const sb = idle.shift()
        if (sb !== undefined) {
          await handOver(sb, req)
          warmHits++
          idleDeaths = 0
          refill()
          return track(sb, memClass)
        }
      }
      coldStarts++
      idleDeaths = 0
      refill()
      const sb = await spawnOne(req.id, freshDir().workDir, req.limits ?? {}, req.env, req.signal)
      return track(sb, req.limits?.memoryMB)
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
    stats: () => ({ idle: idle.length, starting, active: active.size, warmHits, coldStarts, parked: parked.length, reuseHits }),
    async stop () {
      stopCtl.abort()
      notify()
      const unused: ManagedSandbox[] = [...idle.splice(0), ...parked.splice(0).map((p) => { clearTimeout(p.timer); return p.sb })]
      await Promise.all([...unused, ...active].map(async (sb) => await sb.kill('killed', { graceMs: 500 })))
      await Promise.all(unused.map(async (sb) => await rm(sb.workDir, { recursive: true, force: true })))
      // spawns in flight see the aborted signal and kill what they started
      await Promise.allSettled([...inflight])
    }
  }
}
