import { BadRequestError, FrameTooLargeError, ProtocolError, UnsupportedVersionError, type MvmError } from '@mvm/core'
import type protobuf from 'protobufjs'
import { CONTROL_VERSION, Limits, QUEUE_VERSION } from './constants.js'
import { ControlSpecs } from './control-spec.js'
import { checkMessage, FieldProblem, u64 as u64Spec, type MessageSpec } from './fields.js'
import { QueueFrameSpec, QueueHelloSpec } from './queue-spec.js'
import { getSchema } from './schema.js'
import type { ControlBody, ControlEnvelope, ControlEnvelopeInit, ControlType, QueueMessage, QueueMessageInit } from './types.js'

/**
 * Bounded codecs: encode validates the message first (a bad outgoing message is the
 * caller's bug: BadRequestError, nothing sent), decode validates every field after
 * decoding (a bad incoming frame is the peer's: ProtocolError / UnsupportedVersionError /
 * FrameTooLargeError). Neither ever returns a message outside the contract.
 */

const DECODE: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true, arrays: true, objects: true, oneofs: true }

/** Largest encoded control frame allowed for a body type. */
export function controlLimit (type: ControlType | undefined): number {
  if (type === 'instantiate') return Limits.instantiateFrameBytes
  if (type === 'checkpoint') return Limits.checkpointFrameBytes
  return Limits.controlFrameBytes
}

function fieldCheck<T> (fn: () => T, fail: (p: FieldProblem) => MvmError): T {
  try { return fn() } catch (e) {
    if (e instanceof FieldProblem) throw fail(e)
    throw e
  }
}

function u64 (v: unknown, path: string): number {
  return checkMessage({ [path]: u64Spec() }, { [path]: v }, '')[path] as number
}

function decodeRaw (type: protobuf.Type, bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    return type.toObject(type.decode(bytes), DECODE)
  } catch (e) {
    throw new ProtocolError(`${what}: undecodable frame of ${bytes.byteLength} bytes (${(e as Error).message})`, { cause: e })
  }
}

function encodeRaw (type: protobuf.Type, obj: Record<string, unknown>): Uint8Array {
  return type.encode(type.fromObject(obj)).finish()
}

export function encodeControl (env: ControlEnvelopeInit): Uint8Array {
  const { type, ...fields } = env.body as { type: ControlType } & Record<string, unknown>
  const spec: MessageSpec | undefined = ControlSpecs[type]
  if (spec === undefined) throw new BadRequestError(`control message: unknown body type ${JSON.stringify(type)}`)
  const bad = (p: FieldProblem): MvmError => new BadRequestError(`control message ${type}: ${p.message}`, { data: { path: p.path } })
  const body = fieldCheck(() => checkMessage(spec, fields, type), bad)
  const id = fieldCheck(() => u64(env.id ?? 0, 'id'), bad)
  const replyTo = fieldCheck(() => u64(env.replyTo ?? 0, 'replyTo'), bad)
  const bytes = encodeRaw(getSchema().envelope, { version: env.version ?? CONTROL_VERSION, id, replyTo, [type]: body })
  const limit = controlLimit(type)
  if (bytes.byteLength > limit) {
    throw new FrameTooLargeError(`control message ${type} encodes to ${bytes.byteLength} bytes, over the ${limit}-byte limit`, { data: { size: bytes.byteLength, limit } })
  }
  return bytes
}

export function decodeControl (bytes: Uint8Array): ControlEnvelope {
  if (bytes.byteLength > Limits.instantiateFrameBytes) {
    throw new FrameTooLargeError(`control frame of ${bytes.byteLength} bytes is over the ${Limits.instantiateFrameBytes}-byte limit`)
  }
  const raw = decodeRaw(getSchema().envelope, bytes, 'control frame')
  if (raw.version !== CONTROL_VERSION) {
    throw new UnsupportedVersionError(`control frame: version ${String(raw.version)} is not supported (this node speaks ${CONTROL_VERSION})`, { data: { version: raw.version, supported: [CONTROL_VERSION] } })
  }
  const type = raw.body as ControlType | undefined
  const spec = type === undefined ? undefined : ControlSpecs[type]
  if (type === undefined || spec === undefined) throw new ProtocolError('control frame: envelope has no known body')
  const limit = controlLimit(type)
  if (bytes.byteLength > limit) {
    throw new FrameTooLargeError(`control frame: ${type} of ${bytes.byteLength} bytes is over the ${limit}-byte limit`, { data: { size: bytes.byteLength, limit } })
  }
  const bad = (p: FieldProblem): MvmError => new ProtocolError(`control frame ${type}: ${p.message}`, { data: { path: p.path } })
  const fields = fieldCheck(() => checkMessage(spec, raw[type], type), bad)
  const id = fieldCheck(() => u64(raw.id, 'id'), bad)
  const replyTo = fieldCheck(() => u64(raw.replyTo, 'replyTo'), bad)
  return { version: CONTROL_VERSION, id, replyTo, body: { type, ...fields } as unknown as ControlBody }
}

const QUEUE_SPECS = { hello: QueueHelloSpec, frame: QueueFrameSpec } as const

export function encodeQueue (m: QueueMessageInit): Uint8Array {
  const { type, ...fields } = m as { type: 'hello' | 'frame' } & Record<string, unknown>
  const spec = QUEUE_SPECS[type]
  if (spec === undefined) throw new BadRequestError(`queue message: unknown type ${JSON.stringify(type)}`)
  if (type === 'hello') fields.version ??= QUEUE_VERSION
  const body = fieldCheck(() => checkMessage(spec, fields, type), (p) => new BadRequestError(`queue message ${type}: ${p.message}`, { data: { path: p.path } }))
  return encodeRaw(getSchema().queueMessage, { [type]: body })
}

export function decodeQueue (bytes: Uint8Array): QueueMessage {
  if (bytes.byteLength > Limits.queueFrameBytes) {
    throw new FrameTooLargeError(`queue frame of ${bytes.byteLength} bytes is over the ${Limits.queueFrameBytes}-byte limit`)
  }
  const raw = decodeRaw(getSchema().queueMessage, bytes, 'queue frame')
  const type = raw.body as 'hello' | 'frame' | undefined
  if (type !== 'hello' && type !== 'frame') throw new ProtocolError('queue frame: message has no known body')
  const fields = fieldCheck(() => checkMessage(QUEUE_SPECS[type], raw[type], type), (p) => new ProtocolError(`queue frame ${type}: ${p.message}`, { data: { path: p.path } }))
  if (type === 'hello' && fields.version !== QUEUE_VERSION) {
    throw new UnsupportedVersionError(`queue hello: version ${String(fields.version)} is not supported (this node speaks ${QUEUE_VERSION})`, { data: { version: fields.version, supported: [QUEUE_VERSION] } })
  }
  return { type, ...fields } as unknown as QueueMessage
}
