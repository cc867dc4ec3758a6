import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import type { Sandbox, SandboxSpec } from '@mvm/sandbox'

export const fixturesDir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures')
export const worker = join(fixturesDir, 'worker.mjs')

export function specFor (dir: string, id: string, extra: Partial<SandboxSpec> = {}): SandboxSpec {
  return { id, entry: worker, workDir: join(dir, 'work', id), logDir: join(dir, 'logs'), limits: {}, ...extra }
}

/** Sends a command and waits (bounded) for the next reply. */
export async function ask (sb: Sandbox, msg: unknown, timeoutMs = 10_000): Promise<any> {
  return await new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error(`no reply to ${JSON.stringify(msg)} within ${timeoutMs} ms`)) }, timeoutMs)
    const off = sb.onMessage((m) => { clearTimeout(t); off(); resolve(m) })
    sb.send(msg).catch((e: unknown) => { clearTimeout(t); off(); reject(e as Error) })
  })
}

/** Awaits a promise or fails after timeoutMs, so no test can hang. */
export async function within<T> (p: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { t = setTimeout(() => reject(new Error(`${what}: not done within ${timeoutMs} ms`)), timeoutMs) })])
  } finally { clearTimeout(t) }
}

export function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}
