import type { SerializedError } from '@mvm/core'
import type { EncodingSpec } from '@mvm/queue'

/**
 * IPC between the runtime and a rank host. The sandbox's channel is JSON, so payload bytes
 * travel as base64 (`b64`), except JSON-encoded values, which travel as their text (`text`);
 * values are encoded inside the rank, so the runtime forwards them without ever decoding them.
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
  queue: QueueSettings
  restored?: unknown
}

/** An encoded value: JSON text as it is (json encoding, collectives), other bytes as base64. */
export type Payload = { text: string } | { b64: string }

/** Runtime → rank host. */
export type ToHost =
  | { init: HostInit }
  | { data: { port: string } & Payload }
  | { credit: { port: string, n: number } }
  | { coll: { from: number, tag: number } & Payload }
  | { eof: { port: string } }
  | { cancel: { reason: string } }

/** Rank host → runtime. */
export type FromHost =
  | { ready: true }
  | { send: { port: string } & Payload }
  | { credit: { port: string, n: number } }
  | { coll: { to: number, tag: number } & Payload }
  | { checkpoint: { json: string } }
  | { result: unknown }
  | { error: SerializedError & { stack?: string } }

/** The port name collective traffic uses on a LinkFrame; `#` cannot appear in topology port names. */
export const COLLECTIVE_PORT = '#coll'

export const toB64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')
export const fromB64 = (s: string): Uint8Array => {
  const b = Buffer.from(s, 'base64')
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
}
