import type { Logger } from '@mvm/core'
import type { ExitInfo, Sandbox } from '@mvm/sandbox'
import type { FromHost, ToHost } from './protocol.js'

/**
 * One local rank's process as the router sees it. Messages for it may arrive (from peers,
 * local or remote) before its sandbox exists or has its init: they wait here, bounded by
 * the credits each sender holds, and go out in arrival order once it is up.
 */
export class LocalRank {
  sandbox: Sandbox | undefined
  private pending: ToHost[] | undefined = []
  finished = false
  outcome: FromHost | undefined
  startedAtMs = 0
  readyResolve!: () => void
  readyReject!: (e: Error) => void
  readonly ready = new Promise<void>((resolve, reject) => { this.readyResolve = resolve; this.readyReject = reject })

  constructor (readonly rank: number, private readonly log: Logger) {
    this.ready.catch(() => {})
  }

  deliver (m: ToHost): void {
    if (this.finished) return
    if (this.pending !== undefined) { this.pending.push(m); return }
    this.transmit(m)
  }

  /** Sends init first, then whatever queued up meanwhile, in order. */
  open (sandbox: Sandbox, init: ToHost): void {
    this.sandbox = sandbox
    this.transmit(init)
    const q = this.pending ?? []
    this.pending = undefined
    for (const m of q) this.transmit(m)
  }

  private transmit (m: ToHost): void {
    // Node keeps IPC messages in call order, so fire-and-forget preserves per-port order
    this.sandbox?.send(m).catch((err: unknown) => {
      if (!this.finished) this.log.debug({ err, rank: this.rank }, 'IPC send to rank failed')
    })
  }

  exited (info: ExitInfo): void {
    this.finished = true
    this.pending = undefined
    this.readyReject(new Error(`rank ${this.rank} exited before it was ready: ${info.message}`))
  }
}
