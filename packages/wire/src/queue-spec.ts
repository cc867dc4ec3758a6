import { Limits } from './constants.js'
import { bytes, enumOf, str, u32, u64, type MessageSpec } from './fields.js'
import { FrameKind } from './types.js'

/** Bounds for every field of the queue protocol's messages. */

const ID = /^[\w.:@/+=#-]+$/

export const QueueHelloSpec: MessageSpec = {
  version: u32(),
  jobId: str(Limits.idChars, { required: true, pattern: ID })
}

export const QueueFrameSpec: MessageSpec = {
  jobId: str(Limits.idChars, { required: true, pattern: ID }),
  fromRank: u32(),
  toRank: u32(),
  port: str(Limits.idChars, { required: true, pattern: ID }),
  seq: u64(),
  kind: enumOf('FrameKind', Object.values(FrameKind)),
  payload: bytes(Limits.queuePayloadBytes),
  credits: u32()
}
