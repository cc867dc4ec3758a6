import { BadRequestError, InvalidStateError } from '@mvm/core'
import type { EffectivePolicySpec } from '@mvm/model'
import type { ReserveRequest, ReserveResponse } from '@mvm/soap'

type Reservation = EffectivePolicySpec['scheduling']['reservations'][number]

/** Longest reservation `Reserve` takes (a year); a longer hold is surely a typo. */
const MAX_DURATION_SEC = 366 * 86_400

/**
 * Reservations made at run time (`mvm reserve`, SOAP `Reserve`), beside those a policy lists:
 * kept in the broker's store, dropped once over. Both kinds hold slots the same way.
 */
export class RuntimeReservations {
  private list: Reservation[] = []

  constructor (private readonly store: { get: () => string | undefined, put: (json: string | null) => void }) {
    try {
      const v = JSON.parse(store.get() ?? '[]') as unknown
      if (Array.isArray(v)) this.list = v as Reservation[]
    } catch { this.list = [] }
  }

  /** The ones not over yet (over ones are forgotten). */
  current (now = Date.now()): Reservation[] {
    const kept = this.list.filter((r) => r.to === undefined || Date.parse(r.to) > now)
    if (kept.length !== this.list.length) { this.list = kept; this.save() }
    return kept
  }

  /**
   * Adds one after checking it: a name in use (here or in the policy) is refused while that one lasts.
   * @throws BadRequestError naming the field; InvalidStateError for a name in use
   */
  add (req: ReserveRequest, subject: string, policy: readonly Reservation[], now = Date.now()): ReserveResponse {
    const name = req.name.trim()
    if (name === '') throw new BadRequestError('Reserve: name is empty')
    const nodes = req.nodes.filter((n) => n.trim() !== '')
    if (req.slots === undefined && nodes.length === 0) throw new BadRequestError('Reserve: give slots or nodes (or both)')
    if (req.slots !== undefined && !(Number.isInteger(req.slots) && req.slots > 0)) throw new BadRequestError(`Reserve: slots must be a positive integer, got ${req.slots}`)
    if (!(Number.isInteger(req.durationSec) && req.durationSec > 0 && req.durationSec <= MAX_DURATION_SEC)) throw new BadRequestError(`Reserve: durationSec must be a whole number of seconds from 1 to ${MAX_DURATION_SEC}, got ${req.durationSec}`)
    const from = req.start === undefined || req.start === '' ? now : Date.parse(req.start)
    if (Number.isNaN(from)) throw new BadRequestError(`Reserve: start: expected an ISO date-time such as 2030-01-31T09:00:00Z, got ${JSON.stringify(req.start)}`)
    const to = from + req.durationSec * 1000
    if (to <= now) throw new BadRequestError(`Reserve: the window ends in the past (${new Date(to).toISOString()})`)
    if ([...policy, ...this.current(now)].some((r) => r.name === name)) throw new InvalidStateError(`Reserve: a reservation named ${name} exists already`)
    const owners = req.owners.filter((o) => o.trim() !== '')
    const r: Reservation = {
      name,
      ...(req.slots !== undefined ? { slots: req.slots } : {}),
      ...(nodes.length > 0 ? { nodes } : {}),
      subjects: owners.length > 0 ? owners : [subject],
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString()
    }
    this.list = [...this.current(now), r]
    this.save()
    return { name, from: r.from!, to: r.to! }
  }

  private save (): void { this.store.put(this.list.length === 0 ? null : JSON.stringify(this.list)) }
}
