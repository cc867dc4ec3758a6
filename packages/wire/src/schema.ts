import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'

/**
 * The .proto files are the contract, loaded at run time (no generated code to drift).
 * They sit in packages/wire/proto, one level above both src/ and dist/.
 */
export const PROTO_DIR = fileURLToPath(new URL('../proto/', import.meta.url))
export const CONTROL_PROTO_PATH = PROTO_DIR + 'control.proto'
export const QUEUE_PROTO_PATH = PROTO_DIR + 'queue.proto'

let root: protobuf.Root | undefined

/** The parsed schema (both files, package mvm.v1), loaded once on first use. */
export function protoRoot (): protobuf.Root {
  root ??= new protobuf.Root().loadSync([CONTROL_PROTO_PATH, QUEUE_PROTO_PATH])
  return root
}

export interface Schema {
  envelope: protobuf.Type
  queueMessage: protobuf.Type
}

let schema: Schema | undefined

export function getSchema (): Schema {
  if (schema === undefined) {
    const r = protoRoot()
    schema = { envelope: r.lookupType('mvm.v1.Envelope'), queueMessage: r.lookupType('mvm.v1.QueueMessage') }
  }
  return schema
}

/** Options for toObject: numbers for 64-bit fields, enum names, proto3 defaults filled in. */
export const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true, objects: true, oneofs: false }
