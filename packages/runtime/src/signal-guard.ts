/**
 * A rank has no business signalling processes: its node, its own process group and every
 * process of its uid are off limits. The OS already refuses most of it (the rank runs as
 * another uid in its own session, see @mvm/sandbox), but kill(0) or kill(own pid) would hit
 * the rank itself and look like a signal from outside, which the node treats as a lost slot
 * and retries. This guard turns every such call into an immediate EPERM the job sees as its
 * own failure. A program that goes around it (process._kill) still cannot reach the node.
 */
export function guardSignals (): void {
  const deny = (pid: unknown, signal?: unknown): never => {
    const err = new Error(`kill EPERM: a rank may not send signals (process.kill(${String(pid)}${signal === undefined ? '' : `, ${String(signal)}`}))`) as NodeJS.ErrnoException
    err.code = 'EPERM'
    err.errno = -1
    err.syscall = 'kill'
    throw err
  }
  Object.defineProperty(process, 'kill', { value: deny, writable: false, configurable: false, enumerable: true })
}
