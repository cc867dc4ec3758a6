import { nodeLabel, type Logger } from '@mvm/core'
import type { Broker } from '@mvm/broker'
import type { Migrations } from './migrate.js'

/** `draining`: no new ranks, some of its jobs still run there; `drained`: nothing runs there any more. */
export type DrainState = 'draining' | 'drained'

export interface DrainReport {
  peerId: string
  /** `up` once a drain is undone. */
  state: DrainState | 'up'
  /** Jobs whose ranks there are being moved. */
  moving: string[]
  /** Jobs whose ranks there finish where they are (no coordinated cuts, or no room elsewhere yet). */
  staying: string[]
}

export interface DrainsInit {
  broker: Broker
  migrations: Migrations
  /** The stored list (JSON array of peer IDs), so a drain outlives a broker restart. */
  load: () => string | undefined
  save: (json: string | null) => void
  log: Logger
}

/** A job whose move failed (cut timed out, node gone) is tried again after this long, not on every tick. */
const RETRY_AFTER_MS = 30_000

/**
 * Draining nodes, as Slurm's `scontrol update nodename=X state=drain`: a drained node takes no
 * new ranks, and the ranks running there are moved elsewhere when the job takes coordinated
 * cuts and there is room (tried again on each tick while the node still hosts ranks); the
 * others finish where they are. `undrain` gives the node back to the scheduler.
 */
export class Drains {
  private readonly nodes = new Set<string>()
  private readonly failedAt = new Map<string, number>()
  /** Jobs being moved off a drained node, by job: while one is, that node is still draining. */
  private readonly inFlight = new Map<string, string>()

  constructor (private readonly init: DrainsInit) {}

  /** Restores the stored drains (call once the broker has started). */
  start (): void {
    try {
      const v = JSON.parse(this.init.load() ?? '[]') as unknown
      if (Array.isArray(v)) for (const p of v) if (typeof p === 'string') this.nodes.add(p)
    } catch {
      this.init.log.warn('the stored list of drained nodes is not JSON; no node is drained')
    }
    this.init.broker.setDrained([...this.nodes])
  }

  state (peerId: string): DrainState | undefined {
    if (!this.nodes.has(peerId)) return undefined
    const busy = this.init.broker.jobsOn(peerId).length > 0 || [...this.inFlight.values()].includes(peerId)
    return busy ? 'draining' : 'drained'
  }

  list (): string[] { return [...this.nodes] }

  drain (query: string): DrainReport {
    const m = this.init.migrations.resolveNode(query)
    if (!this.nodes.has(m.peerId)) {
      this.nodes.add(m.peerId)
      this.persist()
      this.init.broker.setDrained([...this.nodes])
      this.init.log.info({ node: m.peerId }, 'node drained: it takes no new ranks')
    }
    const moving: string[] = []
    const staying: string[] = []
    for (const id of this.init.broker.jobsOn(m.peerId)) {
      if (this.init.migrations.moving(id) || this.tryMove(id, m.peerId)) moving.push(id)
      else staying.push(id)
    }
    return { peerId: m.peerId, state: this.state(m.peerId) ?? 'drained', moving, staying }
  }

  undrain (query: string): DrainReport {
    const m = this.init.migrations.resolveNode(query)
    if (this.nodes.delete(m.peerId)) {
      this.persist()
      this.init.broker.setDrained([...this.nodes])
      this.init.log.info({ node: m.peerId }, 'drain undone: the node takes ranks again')
    }
    return { peerId: m.peerId, state: 'up', moving: [], staying: this.init.broker.jobsOn(m.peerId) }
  }

  /** Moves what can move now off the drained nodes (room may have freed up since the last try). */
  tick (): void {
    const now = Date.now()
    for (const peerId of this.nodes) {
      for (const id of this.init.broker.jobsOn(peerId)) {
        if ((this.failedAt.get(id) ?? 0) + RETRY_AFTER_MS > now) continue
        this.tryMove(id, peerId)
      }
    }
  }

  /** Starts moving one job's ranks off `peerId` in the background; false when it cannot move now. */
  private tryMove (jobId: string, peerId: string): boolean {
    if (this.init.migrations.evacuation(jobId, peerId) === null) return false
    this.failedAt.delete(jobId)
    this.inFlight.set(jobId, peerId)
    this.init.migrations.evacuate(jobId, peerId).catch((err: unknown) => {
      this.failedAt.set(jobId, Date.now())
      this.init.log.warn({ jobId, node: nodeLabel(peerId), err: (err as Error).message }, 'moving ranks off a draining node failed; tried again later')
    }).finally(() => { this.inFlight.delete(jobId) })
    return true
  }

  private persist (): void {
    this.init.save(this.nodes.size === 0 ? null : JSON.stringify([...this.nodes]))
  }
}
