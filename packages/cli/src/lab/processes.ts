import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { TimeoutError, UnavailableError } from '@mvm/core'

/** The line `mvm node` prints on stdout once it serves: the lab and tests rely on it. */
export interface ReadyLine {
  event: 'ready'
  peerId: string
  soapUrl: string
  multiaddrs: string[]
  roles: string[]
  group: string
}

export interface NodeProcess {
  name: string
  child: ChildProcess
  ready: ReadyLine
  stop: (graceMs?: number) => Promise<void>
}

export const MVM_BIN = fileURLToPath(new URL('../../bin/mvm.js', import.meta.url))

/**
 * Starts `mvm node` as a separate process and resolves with its ready line. Node logs go to
 * `onLog` (stderr of the child), so the lab can keep or drop them.
 */
export async function startNodeProcess (name: string, args: string[], opts: { timeoutMs?: number, onLog?: (line: string) => void, signal?: AbortSignal, cwd?: string } = {}): Promise<NodeProcess> {
  const child = spawn(process.execPath, [MVM_BIN, 'node', ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}) })
  const errLines = createInterface({ input: child.stderr! })
  const recent: string[] = []
  errLines.on('line', (l) => { recent.push(l); if (recent.length > 20) recent.shift(); opts.onLog?.(`[${name}] ${l}`) })
  const outLines = createInterface({ input: child.stdout! })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new TimeoutError(`${name} did not become ready within ${opts.timeoutMs ?? 30000} ms:\n${recent.join('\n')}`)) }, opts.timeoutMs ?? 30000)
    const onAbort = (): void => { clearTimeout(timer); child.kill('SIGKILL'); reject(new UnavailableError(`${name}: start aborted`)) }
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    outLines.on('line', (l) => {
      try {
        const msg = JSON.parse(l) as Partial<ReadyLine>
        if (msg.event === 'ready') { clearTimeout(timer); opts.signal?.removeEventListener('abort', onAbort); resolve(msg as ReadyLine) }
      } catch { opts.onLog?.(`[${name}] ${l}`) }
    })
    void exited.then((code) => { clearTimeout(timer); reject(new UnavailableError(`${name} exited with code ${code} before it was ready:\n${recent.join('\n')}`)) })
  })
  return {
    name,
    child,
    ready,
    async stop (graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(t)
    }
  }
}
