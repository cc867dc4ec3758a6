import type { TrafficCounter } from '@mvm/wire'

/** Control-protocol frames this node sent and received since start (all its control channels). */
export interface ControlTraffic {
  msgsIn: number
  msgsOut: number
  bytesIn: number
  bytesOut: number
}

/**
 * One counter shared by every control channel of a node (its members' streams on a super-peer,
 * its own link to a super-peer or parent): what `mvm sim` reports as control messages and
 * bytes per node. Bytes are frame bodies plus their length prefixes, not Noise or Yamux framing.
 */
export class ControlTrafficCounter implements TrafficCounter {
  private readonly t: ControlTraffic = { msgsIn: 0, msgsOut: 0, bytesIn: 0, bytesOut: 0 }

  sent (bytes: number): void { this.t.msgsOut++; this.t.bytesOut += bytes }
  received (bytes: number): void { this.t.msgsIn++; this.t.bytesIn += bytes }
  snapshot (): ControlTraffic { return { ...this.t } }
}
