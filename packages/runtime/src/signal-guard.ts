import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Written to the rank's work dir just before it signals itself; see guardSignals. */
export const SELF_SIGNAL_FILE = '.mvm-self-signal'

/**
 * A rank may signal nobody but itself. The OS already refuses the node and its group (the
 * rank runs as another uid in its own session, see @mvm/sandbox); this guard makes every
 * other target an immediate EPERM the job sees as its own failure, and records a signal a
 * rank sends itself (kill(own pid) or kill(0), its own group), so that death is reported as
 * the job's doing and not as a signal from outside, which the node treats as a lost slot and
 * retries. A program that goes around it (process._kill) still cannot reach the node; it at
 * most gets a bounded number of retries.
 */
export function guardSignals (): void {
  const real = process.kill.bind(process)
  const marker = join(process.cwd(), SELF_SIGNAL_FILE)
  const kill = (pid: number, signal?: string | number): true => {
    const target = Number(pid)
    if (target !== 0 && target !== process.pid) {
      const err = new Error(`kill EPERM: a rank may signal only itself (process.kill(${String(pid)}${signal === undefined ? '' : `, ${String(signal)}`}))`) as NodeJS.ErrnoException
      err.code = 'EPERM'
      err.syscall = 'kill'
      throw err
    }
    if (signal !== 0) {
      // synchronously: the signal may end this process before any message could leave
      try { writeFileSync(marker, `process.kill(${target}, ${String(signal ?? 'SIGTERM')})`) } catch { /* reported as an outside signal then */ }
    }
    return real(pid, signal)
  }
  Object.defineProperty(process, 'kill', { value: kill, writable: false, configurable: false, enumerable: true })
}
