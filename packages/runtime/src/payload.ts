import { deserialize, serialize } from 'node:v8'
import { BadRequestError } from '@mvm/core'
import { createEncoder, type Encoder, type EncodingSpec } from '@mvm/queue'

/**
 * Values between ranks. A `json` job's values travel as V8's structured-clone bytes, not JSON
 * text: typed arrays, Maps, Dates and -0 arrive as they were sent (a Float64Array stays one, the
 * collectives rely on that), and a large string or typed array is copied, not escaped. Every JSON
 * value round-trips unchanged. `raw` and `protobuf` jobs keep their encoder's bytes; collective
 * messages always use structured clone.
 */
export function structuredEncoder (): Encoder {
  return {
    name: 'structured',
    encode (value) {
      try { return serialize(value) } catch (err) {
        throw new BadRequestError(`json encoder: value cannot be encoded: ${(err as Error).message}`, { cause: err })
      }
    },
    decode (bytes) {
      try { return deserialize(bytes) } catch (err) {
        throw new BadRequestError(`json encoder: ${bytes.byteLength} bytes are not a structured-clone value: ${(err as Error).message}`, { cause: err })
      }
    }
  }
}

/** The codec a rank uses for its port values. */
export function portEncoder (spec: EncodingSpec): Encoder {
  if (isJsonEncoding(spec)) return structuredEncoder()
  const inner = createEncoder(spec)
  // decoded bytes may be a view into a larger socket read: hand programs a buffer of their own
  return { name: inner.name, encode: (v) => inner.encode(v), decode: (b) => inner.decode(new Uint8Array(b)) }
}

/** Whether an encoding spec names the json encoder. */
export function isJsonEncoding (spec: string | { type: string }): boolean {
  return (typeof spec === 'string' ? spec : spec.type) === 'json'
}

/** The payload bytes a rank host put in a message, or undefined when malformed (a rank is not trusted). */
export function payloadOf (m: { bytes?: unknown }): Uint8Array | undefined {
  return m.bytes instanceof Uint8Array ? m.bytes : undefined
}
