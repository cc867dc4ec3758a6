import type { ChildProcess } from 'node:child_process'
import { open } from 'node:fs/promises'
import { SandboxError, throwIfAborted } from '@mvm/core'
import { startWatchdog, type Watchdog } from './watchdog.js'
import type { ExitInfo, ExitReason, KillOptions, Sandbox, SandboxLimits } from './types.js'

export const DEFAULT_GRACE_MS = 2000
/** If 'close' never follows 'exit' (a grandchild holding the IPC fd), settle anyway after this. */
const CLOSE_FALLBACK_MS = 2000

/**
 * Signals a process raises on itself (a fault, V8's abort): the rank's own failure. Any other
 * signal the node did not send came from outside, e.g. the kernel's OOM killer's SIGKILL.
 */
const SELF_INFLICTED = new Set<string>(['SIGABRT', 'SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGTRAP', 'SIGSYS'])

export interface ChildSandboxInit {
  id: string
  child: ChildProcess
  workDir: string
  logs: { out: string, err: string }
  limits: SandboxLimits
  /** Host pid of the Node process inside (differs from child.pid under unshare). */
  targetPid: () => number | undefined
  /** Delivers a signal; SIGKILL must take down everything the sandbox started. */
  signal: (sig: NodeJS.Signals) => void
  watchMemory: boolean
  /** Extra classification after exit (e.g. a cgroup OOM kill); may return a reason. */
  classify?: () => Promise<{ reason: ExitReason, message: string } | undefined>
  /**
   * The signal that ended the process when the exit status hides it (unshare 2.38 exits 1
   * when its pid 1 was SIGKILLed); `signal` otherwise. Reads the logs via `tail`.
   */
  deathSignal?: (code: number | null, sig: NodeJS.Signals | null, tail: () => Promise<string>) => Promise<NodeJS.Signals | null>
  /** The peak memory a cgroup saw, in MiB: more exact than sampling RSS. Read before cleanup. */
  peakMB?: () => Promise<number | undefined>
  /** Runs once after the process is reaped (remove a cgroup, ...). */
  cleanup?: () => Promise<void>
}

/** A Sandbox the pool can re-label and re-limit when it hands a warm process to a job. */
export interface ManagedSandbox extends Sandbox {
  assign: (id: string, logs: { out: string, err: string }, limits: SandboxLimits) => void
  /** False once it exited or was condemned (a limit breach, a kill): such a process is never handed out again. */
  readonly usable: boolean
}

/**
 * Signals the child's whole process group (it leads one: see launch), falling back to the
 * child alone if the group is gone already.
 */
export function signalGroup (child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid !== undefined) {
    try { process.kill(-child.pid, sig); return } catch { /* no such group: try the child itself */ }
  }
  child.kill(sig)
}

export function createChildSandbox (init: ChildSandboxInit): ManagedSandbox {
  const { child } = init
  const started = Date.now()
  let id = init.id
  let logs = init.logs
  let limits = init.limits
  let verdict: { reason: ExitReason, message: string } | undefined
  let killTimer: NodeJS.Timeout | undefined
  let spawnError: Error | undefined
  let settled = false

  const kill = async (reason: ExitReason = 'killed', options: KillOptions = {}): Promise<ExitInfo> => {
    if (!settled) {
      verdict ??= { reason, message: reason === 'killed' ? 'killed on request' : reason }
      const grace = options.graceMs ?? DEFAULT_GRACE_MS
      if (grace <= 0) {
        init.signal('SIGKILL')
      } else {
        init.signal('SIGTERM')
        killTimer ??= setTimeout(() => init.signal('SIGKILL'), grace)
      }
    }
    return await exited
  }

  const watchdog: Watchdog = startWatchdog({
    pid: init.targetPid,
    limits,
    watchMemory: init.watchMemory,
    // a limit breach leaves no room for a clean shutdown: the job is already misbehaving
    onLimit: (reason, message) => { verdict ??= { reason, message }; void kill(reason, { graceMs: 0 }) }
  })

  const exited = new Promise<ExitInfo>((resolve) => {
    let exitCode: number | null = null
    let exitSignal: NodeJS.Signals | null = null
    let fallback: NodeJS.Timeout | undefined
    const finish = (): void => {
      if (settled) return
      settled = true
      if (fallback !== undefined) clearTimeout(fallback)
      if (killTimer !== undefined) clearTimeout(killTimer)
      watchdog.stop()
      void describe(exitCode, exitSignal).then(resolve)
    }
    child.once('exit', (code, sig) => {
      exitCode = code
      exitSignal = sig
      fallback = setTimeout(finish, CLOSE_FALLBACK_MS)
    })
    child.once('close', (code, sig) => { exitCode ??= code; exitSignal ??= sig; finish() })
    child.once('error', (err) => {
      spawnError = err
      // 'error' without a pid means spawn failed and no 'exit' will come
      if (child.pid === undefined) finish()
    })
  })

  const describe = async (code: number | null, sig: NodeJS.Signals | null): Promise<ExitInfo> => {
    const base = { code, signal: sig, durationMs: Date.now() - started, maxRssMB: watchdog.maxRssMB() }
    if (spawnError !== undefined && child.pid === undefined) {
      return { ...base, reason: 'error', message: `could not start sandbox: ${spawnError.message}` }
    }
    // classify before cleanup: the evidence (a cgroup's OOM counter) goes with it
    verdict = (await init.classify?.().catch(() => undefined)) ?? verdict
    const peak = await init.peakMB?.().catch(() => undefined)
    if (peak !== undefined) base.maxRssMB = Math.max(base.maxRssMB, Math.round(peak))
    try { await init.cleanup?.() } catch { /* cleanup is best effort: the process is already gone */ }
    if (verdict === undefined && await heapOutOfMemory(logs.err, code, sig, limits)) {
      verdict = { reason: 'memory', message: `JavaScript heap out of memory (limit ${limits.memoryMB ?? '?'} MB)` }
    }
    if (verdict !== undefined) return { ...base, ...verdict }
    const died = init.deathSignal === undefined ? sig : await init.deathSignal(code, sig, async () => await readTail(logs.err)).catch(() => sig)
    if (died !== null && !SELF_INFLICTED.has(died)) return { ...base, signal: died, reason: 'signal', message: `killed by ${died} (outside signal)` }
    return { ...base, reason: 'exit', message: sig !== null ? `terminated by ${sig}` : `exited with code ${String(code)}` }
  }

  const sandbox: ManagedSandbox = {
    get id () { return id },
    get pid () { return init.targetPid() ?? child.pid ?? -1 },
    workDir: init.workDir,
    get logs () { return logs },
    exited,
    kill,
    async send (msg, options = {}) {
      throwIfAborted(options.signal)
      if (!child.connected) throw new SandboxError(`sandbox ${id}: IPC channel is closed`, { data: { id } })
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => { try { throwIfAborted(options.signal) } catch (e) { reject(e) } }
        options.signal?.addEventListener('abort', onAbort, { once: true })
        const cb = (err: Error | null): void => {
          options.signal?.removeEventListener('abort', onAbort)
          if (err === null || err === undefined) resolve()
          else reject(new SandboxError(`sandbox ${id}: IPC send failed: ${err.message}`, { cause: err, data: { id } }))
        }
        const handle = options.handle
        if (handle === undefined) { child.send(msg as object, cb); return }
        // close our copy as soon as it is written: by default Node keeps it until the child
        // acknowledges, and a child that dies first leaves it open for ever (its peer never sees eof)
        child.send(msg as object, handle, { keepOpen: true }, (err) => { handle.destroy(); cb(err) })
      })
    },
    onMessage (cb) {
      const listener = (m: unknown): void => cb(m)
      child.on('message', listener)
      return () => { child.off('message', listener) }
    },
    get usable () { return !settled && verdict === undefined && child.connected },
    assign (newId, newLogs, newLimits) {
      id = newId
      logs = newLogs
      limits = { ...newLimits, memoryMB: limits.memoryMB }
      watchdog.reset(limits)
    }
  }
  return sandbox
}

/** V8's fatal OOM aborts the process; the only trace is its message on stderr. */
async function heapOutOfMemory (errLog: string, code: number | null, sig: NodeJS.Signals | null, limits: SandboxLimits): Promise<boolean> {
  const aborted = sig === 'SIGABRT' || code === 134
  if (!aborted && code === 0) return false
  if (/heap out of memory|Reached heap limit/i.test(await readTail(errLog))) return true
  return aborted && limits.memoryMB !== undefined
}

/** The last 16 KiB of a log ('' when it cannot be read). */
export async function readTail (file: string): Promise<string> {
  try {
    const fh = await open(file, 'r')
    try {
      const { size } = await fh.stat()
      const len = Math.min(size, 16384)
      const buf = Buffer.alloc(len)
      await fh.read(buf, 0, len, size - len)
      return buf.toString('utf8')
    } finally { await fh.close() }
  } catch { return '' }
}
