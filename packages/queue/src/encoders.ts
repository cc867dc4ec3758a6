import { BadRequestError, createRegistry, type Registry } from '@mvm/core'
import { protobufEncoder, type ProtobufEncoderOptions } from './protobuf.js'

/** Turns a port's values into bytes and back; one per job, chosen by name. */
export interface Encoder<T = unknown> {
  readonly name: string
  encode: (value: T) => Uint8Array
  decode: (bytes: Uint8Array) => T
}

export type EncoderOptions = ProtobufEncoderOptions & Record<string, unknown>

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** JSON text as UTF-8. `undefined` travels as zero bytes so `send(port)` with no value round-trips. */
export function jsonEncoder (): Encoder {
  return {
    name: 'json',
    encode (value) {
      if (value === undefined) return new Uint8Array(0)
      let text: string | undefined
      try { text = JSON.stringify(value) } catch (err) {
        throw new BadRequestError(`json encoder: value cannot be encoded: ${(err as Error).message}`, { cause: err })
      }
      if (text === undefined) throw new BadRequestError(`json encoder: a ${typeof value} cannot be encoded`)
      return utf8.encode(text)
    },
    decode (bytes) {
      if (bytes.byteLength === 0) return undefined
      try { return JSON.parse(fromUtf8.decode(bytes)) } catch (err) {
        throw new BadRequestError(`json encoder: ${bytes.byteLength} bytes are not JSON: ${(err as Error).message}`, { cause: err })
      }
    }
  }
}

/** Bytes in, the same bytes out: no copy inside a process (the Uint8Array itself is passed on). */
export function rawEncoder (): Encoder {
  return {
    name: 'raw',
    encode (value) {
      if (!(value instanceof Uint8Array)) throw new BadRequestError(`raw encoder: expected a Uint8Array, got ${value === null ? 'null' : typeof value}`)
      return value
    },
    decode: (bytes) => bytes
  }
}

/** Encoders by name: `json`, `raw`, `protobuf` (options: `{ proto, type }` for a job's own message type). */
export const encoders: Registry<Encoder, EncoderOptions> = createRegistry<Encoder, EncoderOptions>('encoder')
encoders.register('json', () => jsonEncoder())
encoders.register('raw', () => rawEncoder())
encoders.register('protobuf', (options) => protobufEncoder(options))

export type EncodingSpec = string | { type: string, options?: EncoderOptions }

export function createEncoder (spec: EncodingSpec): Encoder {
  return encoders.resolve(spec)
}
