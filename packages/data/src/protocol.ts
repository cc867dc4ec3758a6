import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '@mvm/core'

/**
 * The .proto file is the contract, loaded at run time (no generated code to drift). It sits
 * in packages/data/proto, one level above both src/ and dist/.
 */
export const DATA_PROTO_PATH = fileURLToPath(new URL('../proto/data.proto', import.meta.url))

export type DataRequest =
  | { type: 'getManifest', id: string }
  | { type: 'getChunks', fileId: string, hashes: string[] }
  | { type: 'has', fileId: string, hashes: string[] }

export type DataResponse =
  | { type: 'manifest', bytes: Uint8Array }
  | { type: 'notFound', id: string }
  | { type: 'chunk', hash: string, bytes: Uint8Array }
  | { type: 'missing', hash: string }
  | { type: 'end' }
  | { type: 'hasReply', present: Uint8Array }
  | { type: 'error', code: string, message: string }

interface Types { request: protobuf.Type, response: protobuf.Type }
let types: Types | undefined
const caseTypes = new Map<string, protobuf.Type>()

function load (): Types {
  if (types === undefined) {
    const root = new protobuf.Root().loadSync(DATA_PROTO_PATH)
    types = { request: root.lookupType('mvm.data.v1.Request'), response: root.lookupType('mvm.data.v1.Response') }
  }
  return types
}

const OPTS: protobuf.IConversionOptions = { longs: Number, defaults: true, arrays: true, oneofs: true }

/** Splits a decoded oneof message into its case and that case's fields. */
function body (t: protobuf.Type, bytes: Uint8Array, what: string): { kind: string, fields: Record<string, unknown> } {
  let o: Record<string, unknown>
  try { o = t.toObject(t.decode(bytes), OPTS) } catch (err) {
    throw new ProtocolError(`data protocol: undecodable ${what}: ${(err as Error).message}`, { cause: err })
  }
  const kind = o.body
  if (typeof kind !== 'string') throw new ProtocolError(`data protocol: a ${what} with no body`)
  return { kind, fields: (o[kind] ?? {}) as Record<string, unknown> }
}

const str = (v: unknown): string => typeof v === 'string' ? v : ''
const strs = (v: unknown): string[] => Array.isArray(v) ? v.map(str) : []
const u8 = (v: unknown): Uint8Array => v instanceof Uint8Array ? v : new Uint8Array(0)

export function encodeRequest (r: DataRequest): Uint8Array {
  const t = load().request
  const msg = r.type === 'getManifest'
    ? { getManifest: { id: r.id } }
    : { [r.type]: { fileId: r.fileId, hashes: r.hashes } }
  return t.encode(t.fromObject(msg)).finish()
}

export function decodeRequest (bytes: Uint8Array): DataRequest {
  const { kind, fields } = body(load().request, bytes, 'request')
  if (kind === 'getManifest') return { type: 'getManifest', id: str(fields.id) }
  if (kind === 'getChunks' || kind === 'has') return { type: kind, fileId: str(fields.fileId), hashes: strs(fields.hashes) }
  throw new ProtocolError(`data protocol: unknown request ${kind}`)
}

export function encodeResponse (r: DataResponse): Uint8Array {
  const t = load().response
  const { type, ...fields } = r
  let inner = caseTypes.get(type)
  if (inner === undefined) { inner = t.lookupType(type.charAt(0).toUpperCase() + type.slice(1)); caseTypes.set(type, inner) }
  // create() takes bytes fields as they are (fromObject would copy a chunk)
  return t.encode(t.create({ [type]: inner.create(fields) })).finish()
}

/**
 * A Response{chunk} frame without copying the chunk: the message's header (its field tags and
 * lengths, written by protobufjs's wire writer) followed by the bytes as they are, which is
 * byte-for-byte what `encodeResponse` gives (a test holds the two equal).
 */
export function encodeChunkResponse (hash: string, bytes: Uint8Array): Uint8ArrayList {
  return new Uint8ArrayList(chunkHeader(hash, bytes.byteLength, false), bytes)
}

/**
 * A whole length-prefixed Response{chunk} frame as it goes on the stream: the prefix and the
 * header in one small buffer, then the chunk's own bytes (not copied).
 */
export function chunkFrame (hash: string, bytes: Uint8Array): Uint8ArrayList {
  return new Uint8ArrayList(chunkHeader(hash, bytes.byteLength, true), bytes)
}

/** The bytes of a Response{chunk} before its `size` chunk bytes, with the frame's length prefix when `prefixed`. */
function chunkHeader (hash: string, size: number, prefixed: boolean): Uint8Array {
  const hashLen = Buffer.byteLength(hash)
  const inner = 1 + varintLen(hashLen) + hashLen + 1 + varintLen(size) + size
  const w = protobuf.Writer.create()
  if (prefixed) w.uint32(1 + varintLen(inner) + inner)
  return w.uint32(RESPONSE_CHUNK_TAG).uint32(inner)
    .uint32(CHUNK_HASH_TAG).string(hash)
    .uint32(CHUNK_BYTES_TAG).uint32(size)
    .finish()
}

/** A message as a varint length-prefixed frame. */
export function lengthPrefixed (message: Uint8Array): Uint8Array {
  return protobuf.Writer.create().bytes(message).finish()
}

/** Any response as a length-prefixed frame. */
export function responseFrame (r: DataResponse): Uint8Array {
  return lengthPrefixed(encodeResponse(r))
}

/** Wire tags (field number << 3 | 2, length-delimited) of Response.chunk = 3, Chunk.hash = 1, Chunk.bytes = 2 in data.proto. */
export const RESPONSE_CHUNK_TAG = (3 << 3) | 2
export const CHUNK_HASH_TAG = (1 << 3) | 2
export const CHUNK_BYTES_TAG = (2 << 3) | 2

function varintLen (n: number): number {
  let len = 1
  while (n >= 0x80) { n = Math.floor(n / 128); len++ }
  return len
}

export function decodeResponse (bytes: Uint8Array): DataResponse {
  const { kind, fields } = body(load().response, bytes, 'response')
  switch (kind) {
    case 'manifest': return { type: 'manifest', bytes: u8(fields.bytes) }
    case 'notFound': return { type: 'notFound', id: str(fields.id) }
    case 'chunk': return { type: 'chunk', hash: str(fields.hash), bytes: u8(fields.bytes) }
    case 'missing': return { type: 'missing', hash: str(fields.hash) }
    case 'end': return { type: 'end' }
    case 'hasReply': return { type: 'hasReply', present: u8(fields.present) }
    case 'error': return { type: 'error', code: str(fields.code), message: str(fields.message) }
    default: throw new ProtocolError(`data protocol: unknown response ${kind}`)
  }
}

/** Bit i set (LSB first in byte i/8) when `present[i]`. */
export function toBitmap (present: boolean[]): Uint8Array {
  const out = new Uint8Array(Math.ceil(present.length / 8))
  present.forEach((p, i) => { if (p) out[i >> 3]! |= 1 << (i & 7) })
  return out
}

export function fromBitmap (bits: Uint8Array, n: number): boolean[] {
  return Array.from({ length: n }, (_, i) => ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0)
}
