import type { SerializedError } from '@mvm/core'
import type { EncodingSpec } from '@mvm/queue'

/**
 * IPC between the runtime and a rank host. The sandbox's channel uses Node's `advanced`
 * (structured clone) serialization, so payloads travel as bytes (`bytes`); values are encoded
 * inside the rank, so the runtime forwards them without ever decoding them. Ranks on one node
 * that share an edge talk over a socket pair the runtime hands them (`direct`), not through it.
 */
export interface QueueSettings {
  /** A queue type name (`fifo`, `priority`). */
  type: string
  /** Items per input port; also the credits a sender starts with. */
  capacity: number
  encoding: EncodingSpec
}

export interface HostInit {
  jobId: string
  rank: number
  size: number
  ports: string[]
  groups: Record<string, string[]>
  params: Record<string, unknown>
  /** Absolute path of the compiled program (an .mjs file the sandbox may read). */
  codePath: string
  /** The program's path in the job's bundle (`primes.ts`): what errors name instead of `codePath`. */
  programPath?: string
  queue: QueueSettings
  restored?: unknown
  /** For each rank of the job, a small integer naming its node (same number = same node). */
  locality?: number[]
  /** The profile's `checkpoint` (mode and interval) when it has one. */
  checkpoint?: { mode: 'rank' | 'coordinated', intervalSec: number }
  /**
   * Port and collective traffic with the runtime goes over a socket (binary frames: port index,
   * bytes) that arrives as `{ uplink }`, not over IPC.
   */
  uplink?: boolean
  /** Local peers this rank talks to over a socket pair; each socket arrives later as `{ direct }`. */
  direct?: DirectPeer[]
  /** The job's inputs (`ctx.files`): prefetched ones are in the work dir, on-demand ones are read with `{ readInput }`. */
  files?: Array<{ name: string, size: number, mode: 'prefetch' | 'onDemand' }>
}

/**
 * One local peer on a direct socket: `edges[i]` is `[my port, its port]`, the same list in the
 * same order on both sides (a frame names the edge by index). Collective messages to and from
 * that peer use the socket too.
 */
export interface DirectPeer {
  peer: number
  edges: Array<[string, string]>
}

/** An encoded value, as bytes (IPC clones them). */
export interface Payload { bytes: Uint8Array }

/** Runtime → rank host. */
export type ToHost =
  | { init: HostInit }
  | { data: { port: string } & Payload }
  | { credit: { port: string, n: number } }
  | { coll: { from: number, tag: number } & Payload }
  | { eof: { port: string } }
  | { cancel: { reason: string } }
  /** Sent with the socket (IPC handle) to `peer`, one of `init.direct`. */
  | { direct: { peer: number } }
  /** Sent with the rank's end of its socket to the runtime. */
  | { uplink: true }
  /** The answer to `{ readInput }` number `req`. */
  | { inputData: { req: number, bytes?: Uint8Array, error?: SerializedError } }
  /** `mvm checkpoint`: take a coordinated cut soon (sent to rank 0). */
  | { cut: true }

/** Rank host → runtime. */
export type FromHost =
  | { ready: true }
  | { send: { port: string } & Payload }
  | { credit: { port: string, n: number } }
  | { coll: { to: number, tag: number } & Payload }
  | { checkpoint: { json: string } }
  /** Totals of what went over direct sockets, per port: `[items, bytes]` (those sends bypass the runtime). */
  | { stats: Record<string, [number, number]> }
  /** A range of an on-demand input: the node fetches only the chunks it covers. */
  | { readInput: { req: number, name: string, offset: number, length: number } }
  | { result: unknown, usage?: RankUsage }
  | { error: SerializedError & { stack?: string }, usage?: RankUsage }

/**
 * What a rank cost, measured by its own process: CPU time of this rank alone (user + system),
 * and the process's peak RSS, which for a reused process covers the ranks it ran before too.
 */
export interface RankUsage { cpuSec: number, maxRssMB: number }

/** The port name collective traffic uses on a LinkFrame; `#` cannot appear in topology port names. */
export const COLLECTIVE_PORT = '#coll'
