import { spawn, type ChildProcess } from 'node:child_process'
import { SandboxError } from '@mvm/core'
import { forkTracked, keepTail, readyLine, spawnTracked, stopProcess, track } from '../procs.js'
import { childScript } from '../paths.js'

/** Starts `node children/<name>.js args…` and waits for its JSON ready line. */
export async function startServer<T> (name: string, args: string[], signal: AbortSignal, timeoutMs = 30_000): Promise<{ child: ChildProcess, ready: T }> {
  const child = spawnTracked(process.execPath, [childScript(name), ...args])
  try {
    const ready = await readyLine<T>(child, name, (v) => v?.event === 'ready', timeoutMs, signal)
    return { child, ready }
  } catch (err) {
    await stopProcess(child, 500)
    throw err
  }
}

/** Forks `children/<name>.js` and waits for its first IPC message ({ ready: true }). */
export async function forkHelper (name: string, args: string[], signal: AbortSignal, timeoutMs = 30_000): Promise<ChildProcess> {
  return await untilReady(forkTracked(childScript(name), args), name, signal, timeoutMs)
}

/**
 * As forkHelper, but the child runs inside network namespace `ns` (`ip netns exec` execs node
 * in place, so the pid, the IPC channel and NODE_CHANNEL_FD carry over).
 */
export async function forkHelperIn (ns: string, name: string, args: string[], signal: AbortSignal, timeoutMs = 30_000): Promise<ChildProcess> {
  const child = track(spawn('ip', ['netns', 'exec', ns, process.execPath, childScript(name), ...args], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }))
  return await untilReady(child, `${name} (in ${ns})`, signal, timeoutMs)
}

async function untilReady (child: ChildProcess, name: string, signal: AbortSignal, timeoutMs: number): Promise<ChildProcess> {
  const tail = keepTail(child)
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { reject(new SandboxError(`${name}: not ready within ${timeoutMs} ms: ${tail()}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(t); signal.removeEventListener('abort', onAbort) }
      const onAbort = (): void => { done(); reject(signal.reason) }
      signal.addEventListener('abort', onAbort, { once: true })
      child.once('message', () => { done(); resolve() })
      child.once('error', (err) => { done(); reject(new SandboxError(`${name}: ${err.message}`)) })
      child.once('exit', (code) => { done(); reject(new SandboxError(`${name} exited (${code}) before it was ready: ${tail()}`)) })
    })
    return child
  } catch (err) {
    await stopProcess(child, 500)
    throw err
  }
}

export async function stopAllOf (...children: Array<ChildProcess | undefined>): Promise<void> {
  await Promise.all(children.filter((c): c is ChildProcess => c !== undefined).map(async (c) => { await stopProcess(c) }))
}

/** Runs `n` tasks with at most `concurrency` in flight; returns the elapsed ms. */
export async function timedPool (n: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0
  const t0 = performance.now()
  const worker = async (): Promise<void> => {
    while (next < n) { const i = next++; await task(i) }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  return performance.now() - t0
}
