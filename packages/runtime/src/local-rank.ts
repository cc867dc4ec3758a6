import type { Logger } from '@mvm/core'
import type { ExitInfo, Sandbox } from '@mvm/sandbox'
import { Kind, type FrameSocket } from './frame-socket.js'
import type { FromHost, ToHost } from './protocol.js'

/**
 * One local rank's process as the router sees it. Messages for it may arrive (from peers,
 * local or remote) before its sandbox exists or has its init: they wait here, bounded by
 * the credits each sender holds, and go out in arrival order once it is up.
 */
export class LocalRank {
  sandbox: Sandbox | undefined
  /** The socket port and collective traffic to the rank goes on (IPC carries the rest). */
  uplink: FrameSocket | undefined
  private readonly portIndex: Map<string, number>
  private pending: ToHost[] | undefined = []
  finished = false
  outcome: FromHost | undefined
  startedAtMs = 0
  readyResolve!: () => void
  readyReject!: (e: Error) => void
  readonly ready = new Promise<void>((resolve, reject) => { this.readyResolve = resolve; this.readyReject = reject })

  constructor (readonly rank: number, readonly ports: string[], private readonly log: Logger) {
    this.ready.catch(() => {})
    this.portIndex = new Map(ports.map((p, i) => [p, i]))
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
    const up = this.uplink
    if (up !== undefined) {
      if ('data' in m) { const i = this.portIndex.get(m.data.port); if (i !== undefined) up.write(Kind.data, i, 0, m.data.bytes); return }
      if ('credit' in m) { const i = this.portIndex.get(m.credit.port); if (i !== undefined) up.write(Kind.credit, i, m.credit.n); return }
      if ('eof' in m) { const i = this.portIndex.get(m.eof.port); if (i !== undefined) up.write(Kind.eof, i, 0); return }
      if ('coll' in m) { up.write(Kind.coll, m.coll.tag, m.coll.from, m.coll.bytes); return }
    }
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
