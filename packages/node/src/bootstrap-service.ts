import { BadRequestError, type Logger } from '@mvm/core'
import type { BrokerInfo } from '@mvm/soap'

/** A registered super-peer as GetBrokers reports it, plus its lease. */
export interface BrokerRecord extends BrokerInfo {
  /** Epoch ms after which the record is dropped unless renewed. */
  expiresAt: number
}

export type Registration = Omit<BrokerRecord, 'registeredAt' | 'expiresAt'>

/**
 * The bootstrap role: an information service. Super-peers register with a lease and renew
 * it; anyone asks which super-peers (brokers) serve a group. Nothing is persisted: after a
 * bootstrap restart the super-peers' next renewal re-populates it.
 */
export class BootstrapService {
  private readonly records = new Map<string, BrokerRecord>()

  constructor (private readonly leaseSec: number, private readonly log: Logger) {}

  register (r: Registration): { accepted: boolean, leaseSec: number } {
    if (r.group === '' || r.peerId === '') throw new BadRequestError('RegisterSuperPeer: group and peerId are required')
    const key = `${r.group}\u0000${r.peerId}`
    const prev = this.records.get(key)
    const now = Date.now()
    this.records.set(key, {
      ...r,
      registeredAt: prev?.registeredAt ?? new Date(now).toISOString(),
      expiresAt: now + this.leaseSec * 1000
    })
    if (prev === undefined) this.log.info({ group: r.group, peerId: r.peerId, soapUrl: r.soapUrl }, 'super-peer registered')
    return { accepted: true, leaseSec: this.leaseSec }
  }

  brokers (group?: string): BrokerRecord[] {
    const now = Date.now()
    const out: BrokerRecord[] = []
    for (const [k, r] of this.records) {
      if (r.expiresAt < now) { this.records.delete(k); continue }
      if (group === undefined || group === '' || r.group === group) out.push(r)
    }
    out.sort((a, b) => a.registeredAt.localeCompare(b.registeredAt))
    // within a group, the newest registration first: a second super-peer registering for a group
    // is one that took it over (a standby), and the older record only a lease not yet run out
    const first = new Map<string, number>()
    out.forEach((r, i) => { if (!first.has(r.group)) first.set(r.group, i) })
    return out.sort((a, b) => (first.get(a.group)! - first.get(b.group)!) || b.registeredAt.localeCompare(a.registeredAt))
  }
}
