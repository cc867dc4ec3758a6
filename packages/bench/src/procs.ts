import { fork, spawn, type ChildProcess, type ForkOptions, type SpawnOptions } from 'node:child_process'
import { createInterface } from 'node:readline'
import { setTimeout as delay } from 'node:timers/promises'
import { AbortError, SandboxError, TimeoutError } from '@mvm/core'

/**
 * Every process the bench starts is registered here, so a normal end, an error and Ctrl-C
 * all stop the same set. Processes that start their own children (MVM nodes) are started
 * in their own process group and the whole group is killed as a last resort.
 */
const live = new Set<ChildProcess>()

export function track<C extends ChildProcess> (child: C, group = false): C {
  live.add(child)
  ;(child as ChildProcess & { benchGroup?: boolean }).benchGroup = group
  child.once('exit', () => { live.delete(child) })
  return child
}

export function spawnTracked (cmd: string, args: string[], options: SpawnOptions & { group?: boolean } = {}): ChildProcess {
  const { group = false, ...rest } = options
  return track(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...rest, detached: group }), group)
}

export function forkTracked (modulePath: string, args: string[] = [], options: ForkOptions = {}): ChildProcess {
  return track(fork(modulePath, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], ...options }))
}

/** SIGTERM, then SIGKILL (the whole group for grouped ones) after `graceMs`. */
export async function stopProcess (child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) { live.delete(child); return }
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve() }) })
  const group = (child as ChildProcess & { benchGroup?: boolean }).benchGroup === true
  try { child.kill('SIGTERM') } catch { /* already gone */ }
  const t = delay(graceMs).then(() => 'late' as const)
  if (await Promise.race([exited.then(() => 'done' as const), t]) === 'late') {
    try { child.kill('SIGKILL') } catch { /* already gone */ }
  }
  if (group && child.pid !== undefined) {
    // ranks a node spawned live in the node's group: none may outlive the bench
    try { process.kill(-child.pid, 'SIGKILL') } catch { /* group already empty */ }
  }
  await Promise.race([exited, delay(2000)])
  live.delete(child)
}

export async function stopAll (): Promise<void> {
  await Promise.all([...live].map(async (c) => { await stopProcess(c) }))
}

export function liveCount (): number { return live.size }

/** The last lines of a child's stderr, for error messages. */
export function keepTail (child: ChildProcess, lines = 8): () => string {
  const tail: string[] = []
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => {
    tail.push(...d.split('\n').filter((l) => l.trim() !== ''))
    if (tail.length > lines) tail.splice(0, tail.length - lines)
  })
  return () => tail.join(' | ')
}

/** Waits for the first stdout line that parses as JSON and satisfies `accept`. */
export async function readyLine<T> (child: ChildProcess, what: string, accept: (v: any) => boolean, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  if (child.stdout === null) throw new SandboxError(`${what}: no stdout pipe`)
  const stderrTail = keepTail(child)
  const rl = createInterface({ input: child.stdout })
  const ac = new AbortController()
  const stop = AbortSignal.any([ac.signal, AbortSignal.timeout(timeoutMs), ...(signal !== undefined ? [signal] : [])])
  try {
    return await new Promise<T>((resolve, reject) => {
      rl.on('line', (line) => {
        try {
          const v = JSON.parse(line) as unknown
          if (accept(v)) resolve(v as T)
        } catch { /* not a JSON line */ }
      })
      child.once('exit', (code, sig) => { reject(new SandboxError(`${what} exited (${sig ?? code}) before it was ready: ${stderrTail()}`)) })
      stop.addEventListener('abort', () => {
        if (signal?.aborted === true) reject(new AbortError(`${what}: aborted`))
        else reject(new TimeoutError(`${what} not ready within ${timeoutMs} ms: ${stderrTail()}`))
      }, { once: true })
    })
  } finally {
    ac.abort()
    rl.removeAllListeners('line')
  }
}

/** One request/reply over a forked child's IPC channel, matched by `id`. */
export async function ask<T> (child: ChildProcess, msg: Record<string, unknown>, signal: AbortSignal): Promise<T> {
  const id = Math.random().toString(36).slice(2)
  return await new Promise<T>((resolve, reject) => {
    const onMsg = (m: any): void => {
      if (m?.id !== id) return
      cleanup()
      if (typeof m.error === 'string') reject(new Error(m.error))
      else resolve(m.value as T)
    }
    const onExit = (code: number | null): void => { cleanup(); reject(new SandboxError(`helper process exited (${code}) during "${String(msg.cmd)}"`)) }
    const onAbort = (): void => { cleanup(); reject(signal.reason instanceof Error ? signal.reason : new AbortError()) }
    const cleanup = (): void => { child.off('message', onMsg); child.off('exit', onExit); signal.removeEventListener('abort', onAbort) }
    if (signal.aborted) { onAbort(); return }
    child.on('message', onMsg)
    child.once('exit', onExit)
    signal.addEventListener('abort', onAbort, { once: true })
    child.send({ ...msg, id })
  })
}

/** Runs a process to its end and returns its stdout; rejects on a non-zero exit or abort. */
export async function runToEnd (cmd: string, args: string[], signal: AbortSignal, options: SpawnOptions = {}): Promise<string> {
  const child = spawnTracked(cmd, args, options)
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err = (err + d).slice(-2000) })
  const onAbort = (): void => { void stopProcess(child, 500) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (c) => { resolve(c) })
    })
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new AbortError()
    if (code !== 0) throw new SandboxError(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`)
    return out
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
