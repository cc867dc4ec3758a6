/** Protocol ids, versions and size limits: part of the contract (see README.md). */

export const CONTROL_PROTOCOL = '/mvm/control/1.0.0'
export const QUEUE_PROTOCOL = '/mvm/queue/1.0.0'

/** Envelope.version / QueueHello.version this code speaks. */
export const CONTROL_VERSION = 1
export const QUEUE_VERSION = 1

const KiB = 1024
const MiB = 1024 * KiB

export const Limits = {
  /** Any control frame except one carrying Instantiate. */
  controlFrameBytes: 1 * MiB,
  /** A control frame carrying Instantiate (spec + source bundle). */
  instantiateFrameBytes: 64 * MiB,
  /** A rank checkpoint's state JSON. */
  checkpointStateBytes: 16 * MiB,
  /** A control frame carrying Checkpoint: the state plus its header fields. */
  checkpointFrameBytes: 16 * MiB + 64 * KiB,
  /** Queue frame payload. */
  queuePayloadBytes: 4 * MiB,
  /** Whole queue frame: payload plus header fields. */
  queueFrameBytes: 4 * MiB + 64 * KiB,
  /** Identifiers: peer ids, job ids, group names, roles, ports, codes, label keys. */
  idChars: 256,
  /** Free text: reasons, messages, versions, URLs, multiaddrs, label values, paths. */
  textChars: 4096,
  /** JSON fields (result, policy, error data) are bounded only by the frame. */
  roles: 16,
  labels: 64,
  multiaddrs: 64,
  bundleFiles: 10_000,
  ranks: 65_536,
  childNodes: 10_000,
  /** Port traffic rows in one heartbeat. */
  portTraffic: 256,
  /** Output files one rank reports (a profile lists at most 256). */
  outputFiles: 256,
  domainProofBytes: 16 * KiB,
  nonceBytes: 256
} as const
