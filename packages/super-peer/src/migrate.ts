import { BadRequestError, CapacityError, InvalidStateError, NotFoundError, TimeoutError, nodeLabel, type Logger } from '@mvm/core'
import { terminalStates, type Broker, type Job } from '@mvm/broker'
import type { InstanceTemplate } from '@mvm/wire'
import { matchNodes } from './node-match.js'

/** A member as migration needs it (structural: the membership view's entries). */
export interface MigrationMember {
  peerId: string
  group: string
  roles: string[]
  state: 'up' | 'down' | 'left'
  labels: Record<string, string>
}

export interface MigrationsInit {
  broker: Broker
  /** Asks the node running rank 0 for a cut at the job's next checkpoint point. */
  requestCut: (jobId: string, peerId: string) => Promise<void>
  /** This group's members; `all` adds the child groups' (to tell "in another group" from "unknown"). */
  members: (all?: boolean) => MigrationMember[]
  group: () => string
  log: Logger
  /** How long to wait for the cut a migration asks for (default 30 s). */
  cutTimeoutMs?: number
}

const DEFAULT_CUT_TIMEOUT_MS = 30_000
const CUT_POLL_MS = 40

/**
 * Moving ranks of a running job (`mvm migrate`, and a drain): the job must take coordinated
 * checkpoints. A fresh cut is asked for and awaited; then the broker stops the job's ranks and
 * starts them again at once with the moved ranks on their new nodes (the others where they
 * were), every rank resuming from that cut with the messages that were in flight on its ports.
 * The queue layer learns the new addresses from the new instantiation, so the neighbours'
 * ports follow; the cut's channel state makes sure no message is lost or read twice.
 */
export class Migrations {
  /** Jobs being moved now: one move at a time per job. */
  private readonly busy = new Set<string>()

  constructor (private readonly init: MigrationsInit) {}

  /** Whether a move of that job is under way. */
  moving (jobId: string): boolean { return this.busy.has(jobId) }

  /**
   * The group member `query` names (peer ID, short ID, unique prefix or `name` label).
   * @throws NotFoundError unknown or in another group; BadRequestError ambiguous or not a peer
   */
  resolveNode (query: string): MigrationMember {
    const own = matchNodes(query, this.init.members())
    if (own.length > 1) throw new BadRequestError(`node ${query}: matches ${own.length} nodes (${own.map((m) => nodeLabel(m.peerId, m.labels)).join(', ')}); give more of the peer ID`)
    const m = own[0]
    if (m === undefined) {
      const elsewhere = matchNodes(query, this.init.members(true))[0]
      if (elsewhere !== undefined) throw new NotFoundError(`node ${query} is in group ${elsewhere.group}, not in this broker's group ${this.init.group()}; ranks move only within a group`, { data: { node: query, group: elsewhere.group } })
      throw new NotFoundError(`node ${query}: no such node in group ${this.init.group()} (see mvm nodes)`, { data: { node: query } })
    }
    if (!m.roles.includes('peer')) throw new BadRequestError(`node ${nodeLabel(m.peerId, m.labels)} has no peer role; it runs no ranks`, { data: { node: m.peerId } })
    return m
  }

  /**
   * Moves rank `rank` of job `jobRef` to the node `nodeRef` names. Returns the job as placed
   * again (or as it was, when the rank already runs there).
   */
  async migrate (jobRef: string, rank: number, nodeRef: string, options: { signal?: AbortSignal } = {}): Promise<Job> {
    const { broker } = this.init
    const job = broker.get(broker.resolveId(jobRef))
    this.checkMovable(job)
    if (!Number.isInteger(rank) || rank < 0) throw new BadRequestError(`migrate ${job.id}: rank must be an integer >= 0 (got ${String(rank)})`, { data: { jobId: job.id, rank } })
    if (rank >= job.size) throw new NotFoundError(`job ${job.id} has no rank ${rank} (its ranks are 0 to ${job.size - 1})`, { data: { jobId: job.id, rank } })
    const target = this.resolveNode(nodeRef)
    const name = nodeLabel(target.peerId, target.labels)
    if (target.state !== 'up') throw new InvalidStateError(`node ${name} is ${target.state}; ranks move only to an up node`, { data: { node: target.peerId, state: target.state } })
    const placement = job.placement!
    if (placement[rank] === target.peerId) return job
    const pins = new Map(placement.map((p, r) => [r, r === rank ? target.peerId : p]))
    // room is checked before any cut is taken: a refused move costs the job nothing
    try {
      broker.planRelocation(job.id, pins)
    } catch (err) {
      if (err instanceof CapacityError) throw new CapacityError(`node ${name} has no room for rank ${rank} of job ${job.id} (no free slot${(job.request.resources?.memoryMB ?? 0) > 0 ? ` with ${job.request.resources!.memoryMB} MB` : ''}, or it is draining)`, { data: { jobId: job.id, rank, node: target.peerId } })
      throw err
    }
    return await this.move(job, pins, `migrating rank ${rank} to ${name}`, options.signal)
  }

  /**
   * Moves a running job's ranks off `peerId` (a drain): the others stay where they are, the
   * moved ones go where the job's strategy puts them. False, moving nothing, when the job does
   * not take coordinated cuts or there is no room elsewhere now (its ranks finish where they are).
   */
  async evacuate (jobId: string, peerId: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const pins = this.evacuation(jobId, peerId)
    if (pins === null) return false
    const m = this.init.members().find((x) => x.peerId === peerId)
    await this.move(this.init.broker.get(jobId), pins, `node ${nodeLabel(peerId, m?.labels)} is draining; moving its ranks`, options.signal)
    return true
  }

  /** The pins that move the job's ranks off `peerId` (the others stay), or null when it cannot move now. */
  evacuation (jobId: string, peerId: string): Map<number, string> | null {
    const job = this.init.broker.get(jobId)
    if (!this.canMove(job) || this.busy.has(jobId)) return null
    const pins = new Map<number, string>()
    job.placement!.forEach((p, r) => { if (p !== peerId) pins.set(r, p) })
    if (pins.size === job.size) return null
    try { this.init.broker.planRelocation(jobId, pins) } catch { return null }
    return pins
  }

  /** Whether a job can be moved now: running, placed, with coordinated checkpoints. */
  canMove (job: Job): boolean {
    return job.state === 'running' && job.placement !== null && job.childIds === undefined && coordinated(job)
  }

  private checkMovable (job: Job): void {
    const data = { jobId: job.id, state: job.state }
    if (job.childIds !== undefined) throw new BadRequestError(`job ${job.id} is an array job; migrate one of its elements (${job.childIds.slice(0, 3).join(', ')}…)`, { data })
    if (terminalStates.has(job.state)) throw new InvalidStateError(`job ${job.id} already ${job.state}; there is nothing to migrate`, { data })
    if (!coordinated(job)) throw new InvalidStateError(`job ${job.id} does not take coordinated checkpoints; only a job whose profile says checkpoint.mode: coordinated can move while it runs`, { data })
    if (job.state !== 'running' || job.placement === null) throw new InvalidStateError(`job ${job.id} is ${job.state}, not running; only a running job can migrate`, { data })
    if (this.busy.has(job.id)) throw new InvalidStateError(`job ${job.id} is being moved already; try again once it runs again`, { data })
  }

  /** A fresh cut, then the job placed again with `pins`. */
  private async move (job: Job, pins: ReadonlyMap<number, string>, reason: string, signal?: AbortSignal): Promise<Job> {
    const { broker, log } = this.init
    this.busy.add(job.id)
    try {
      const before = cutKey(broker.checkpoints(job.id), job.size)
      const t0 = Date.now()
      await this.init.requestCut(job.id, job.placement![0]!)
      await this.waitForCut(job, before, signal)
      const moved = await broker.relocate(job.id, { pins, reason })
      log.info({ jobId: job.id, reason, ms: Date.now() - t0, placement: moved.placement }, 'job placed again from a fresh cut')
      return moved
    } finally {
      this.busy.delete(job.id)
    }
  }

  /** Waits until a complete cut newer than `before` is stored; the job must stay running meanwhile. */
  private async waitForCut (job: Job, before: string, signal?: AbortSignal): Promise<void> {
    const { broker } = this.init
    const limit = this.init.cutTimeoutMs ?? DEFAULT_CUT_TIMEOUT_MS
    const deadline = Date.now() + limit
    for (;;) {
      signal?.throwIfAborted()
      const now = broker.get(job.id)
      if (now.state !== 'running') throw new InvalidStateError(`job ${job.id} became ${now.state}${now.reason !== null ? ` (${now.reason})` : ''} before the cut for its migration completed; nothing was moved`, { data: { jobId: job.id, state: now.state } })
      const key = cutKey(broker.checkpoints(job.id), job.size)
      if (key !== '' && key !== before) return
      if (Date.now() > deadline) {
        throw new TimeoutError(`job ${job.id}: no cut completed within ${limit / 1000} s of asking; a migration needs every rank to reach its next ctx.checkpoint()`, { data: { jobId: job.id } })
      }
      await new Promise((resolve) => setTimeout(resolve, CUT_POLL_MS))
    }
  }
}

function coordinated (job: Job): boolean {
  return (job.request.instance as InstanceTemplate | undefined)?.checkpoint?.mode === 'coordinated'
}

/** Which complete cut the broker holds ('' for none): its attempt and number. */
function cutKey (records: ReadonlyArray<{ attempt: number, seq: number, stateJson: string }>, size: number): string {
  if (records.length !== size || !records.every((r) => r.stateJson.startsWith('{"$mvmCut":'))) return ''
  return `${records[0]!.attempt}:${records[0]!.seq}`
}
