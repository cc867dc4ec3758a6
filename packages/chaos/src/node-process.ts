import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { MVM_BIN, type ReadyLine } from '@mvm/cli'
import { TimeoutError, UnavailableError } from '@mvm/core'

/** One `mvm node` process of the chaos lab, with its log appended to a file across restarts. */
export interface ChaosNode {
  readonly name: string
  readonly child: ChildProcess
  readonly ready: ReadyLine
  /** Resolves with the exit code or signal once the process is gone. */
  readonly exited: Promise<string>
  alive: () => boolean
}

/**
 * Starts `mvm node` detached, as the leader of its own process group: a hostile rank's
 * kill(0) then reaches the node's group, never the chaos driver's (which would end the run
 * and hide the finding). The lab's own startNodeProcess cannot do that, hence this copy.
 */
export async function startChaosNode (name: string, args: string[], o: { logFile: string, timeoutMs?: number, signal?: AbortSignal }): Promise<ChaosNode> {
  const log: WriteStream = createWriteStream(o.logFile, { flags: 'a' })
  log.write(`--- ${new Date().toISOString()} start ${name}: mvm node ${args.join(' ')}\n`)
  const child = spawn(process.execPath, [MVM_BIN, 'node', ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const recent: string[] = []
  createInterface({ input: child.stderr! }).on('line', (l) => { recent.push(l); if (recent.length > 20) recent.shift(); log.write(l + '\n') })
  const out = createInterface({ input: child.stdout! })
  const exited = new Promise<string>((resolve) => child.once('exit', (code, sig) => {
    const how = sig !== null ? sig : `code ${String(code)}`
    log.end(`--- ${new Date().toISOString()} ${name} exited: ${how}\n`)
    resolve(how)
  }))
  const timeoutMs = o.timeoutMs ?? 60_000
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new TimeoutError(`${name} did not become ready within ${timeoutMs} ms:\n${recent.join('\n')}`)) }, timeoutMs)
    const onAbort = (): void => { clearTimeout(timer); child.kill('SIGKILL'); reject(new UnavailableError(`${name}: start aborted`)) }
    o.signal?.addEventListener('abort', onAbort, { once: true })
    out.on('line', (l) => {
      let msg: Partial<ReadyLine> | undefined
      try { msg = JSON.parse(l) as Partial<ReadyLine> } catch { log.write(l + '\n') }
      if (msg?.event === 'ready') { clearTimeout(timer); o.signal?.removeEventListener('abort', onAbort); resolve(msg as ReadyLine) }
    })
    void exited.then((how) => { clearTimeout(timer); reject(new UnavailableError(`${name} exited (${how}) before it was ready:\n${recent.join('\n')}`)) })
  })
  return { name, child, ready, exited, alive: () => child.exitCode === null && child.signalCode === null }
}

/** SIGKILL to the node's whole process group (the node and any rank still in it). */
export function killGroup (n: ChaosNode): void {
  const pid = n.child.pid
  if (pid === undefined) return
  try { process.kill(-pid, 'SIGKILL') } catch { /* already gone */ }
}
