import { createRequire } from 'node:module'
import { BadRequestError, ConfigError } from '@mvm/core'
import type * as Pb from 'protobufjs'
import type { Encoder } from './encoders.js'

export interface ProtobufEncoderOptions {
  /** Text of a .proto file (the job ships it in its bundle); with `type`, values are that message. */
  proto?: string
  /** Fully qualified message type inside `proto`, e.g. `lab.Sample`. */
  type?: string
}

/**
 * Without a schema, any JSON-like value (plus Uint8Array) is carried as this self-describing
 * message, in the spirit of google.protobuf.Value but with bytes and without a separate null enum.
 */
const GENERIC = `
syntax = "proto3";
package mvm.queue;
message Value { oneof kind { bool null = 1; double number = 2; string text = 3; bool flag = 4; Struct struct = 5; List list = 6; bytes bytes = 7; bool undef = 8; } }
message Struct { map<string, Value> fields = 1; }
message List { repeated Value items = 1; }
`

// protobufjs is loaded only by jobs that pick this encoder: ranks that do not, never pay for it
const load = (): typeof Pb => createRequire(import.meta.url)('protobufjs') as typeof Pb

interface PValue { null?: boolean, number?: number, text?: string, flag?: boolean, struct?: { fields: Record<string, PValue> }, list?: { items: PValue[] }, bytes?: Uint8Array, undef?: boolean }

function toValue (v: unknown, path: string): PValue {
  if (v === null) return { null: true }
  if (v === undefined) return { undef: true }
  if (typeof v === 'number') return { number: v }
  if (typeof v === 'string') return { text: v }
  if (typeof v === 'boolean') return { flag: v }
  if (v instanceof Uint8Array) return { bytes: v }
  if (Array.isArray(v)) return { list: { items: v.map((x, i) => toValue(x, `${path}[${i}]`)) } }
  if (typeof v === 'object') {
    const fields: Record<string, PValue> = {}
    for (const [k, x] of Object.entries(v)) fields[k] = toValue(x, `${path}.${k}`)
    return { struct: { fields } }
  }
  throw new BadRequestError(`protobuf encoder: ${path} is a ${typeof v}, which has no encoding`)
}

function fromValue (p: PValue): unknown {
  if (p.struct !== undefined) {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(p.struct.fields ?? {})) out[k] = fromValue(x)
    return out
  }
  if (p.list !== undefined) return (p.list.items ?? []).map(fromValue)
  if (p.number !== undefined) return p.number
  if (p.text !== undefined) return p.text
  if (p.flag !== undefined) return p.flag
  if (p.bytes !== undefined) return p.bytes
  if (p.undef !== undefined) return undefined
  return null
}

export function protobufEncoder (options: ProtobufEncoderOptions = {}): Encoder {
  const pb = load()
  if (options.proto === undefined) {
    const Value = pb.parse(GENERIC).root.lookupType('mvm.queue.Value')
    return {
      name: 'protobuf',
      encode: (v) => Value.encode(Value.fromObject(toValue(v, 'value'))).finish(),
      decode: (b) => fromValue(Value.toObject(Value.decode(b), { oneofs: false }) as PValue)
    }
  }
  if (options.type === undefined) throw new ConfigError('protobuf encoder: `type` (the message name) is required with `proto`')
  let T: Pb.Type
  try {
    T = pb.parse(options.proto, { keepCase: true }).root.lookupType(options.type)
  } catch (err) {
    throw new ConfigError(`protobuf encoder: cannot use message type "${options.type}": ${(err as Error).message}`, { cause: err })
  }
  return {
    name: 'protobuf',
    encode (v) {
      const problem = T.verify(v as Record<string, unknown>)
      if (problem !== null) throw new BadRequestError(`protobuf encoder: value is not a ${options.type}: ${problem}`)
      return T.encode(T.fromObject(v as Record<string, unknown>)).finish()
    },
    decode: (b) => T.toObject(T.decode(b), { longs: Number, defaults: true })
  }
}
