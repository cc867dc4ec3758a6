/**
 * What the roles of a node report to its metrics. Each is read when Prometheus scrapes, never
 * pushed: a scrape costs the node nothing between scrapes.
 */

/** The super-peer's broker. */
export interface BrokerSource {
  /** Jobs in the store by state (every state, zeros included). */
  jobsByState: () => Record<string, number>
}

/** The peer role's runtime; `undefined` fields before the first job loads it. */
export interface PeerSource {
  ranksRunning: () => number
  pool: () => { idle: number, starting: number, active: number, parked: number } | undefined
}

/** One queue port's counters, as the queue layer keeps them for a running job. */
export interface QueuePortStats { jobId: string, rank: number, port: string, items: number, bytes: number }

/** The overlay. */
export interface OverlaySource {
  /** Heartbeat intervals members let pass without a heartbeat, since start (super-peer). */
  heartbeatsMissed: () => number
  /** Heartbeats received from members since start (super-peer). */
  heartbeatsReceived?: () => number
  members: () => Record<string, number>
}
