import { BadRequestError } from '@mvm/core'
import { fromB64, toB64, type Payload } from './protocol.js'

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/**
 * Values on IPC. Node's IPC channel is JSON text, so bytes must travel as base64; but JSON-encoded
 * values already are text, and carrying that text as it is saves a base64 pass at each end and
 * a third of the bytes per hop. Same rules as @mvm/queue's json encoder: `undefined` is empty.
 */
export function jsonText (value: unknown): string {
  if (value === undefined) return ''
  let text: string | undefined
  try { text = JSON.stringify(value) } catch (err) {
    throw new BadRequestError(`json encoder: value cannot be encoded: ${(err as Error).message}`, { cause: err })
  }
  if (text === undefined) throw new BadRequestError(`json encoder: a ${typeof value} cannot be encoded`)
  return text
}

export function parseJsonText (text: string): unknown {
  if (text === '') return undefined
  try { return JSON.parse(text) } catch (err) {
    throw new BadRequestError(`json encoder: ${text.length} characters are not JSON: ${(err as Error).message}`, { cause: err })
  }
}

/** The wire bytes of a payload (a LinkFrame's `payload`). */
export function payloadBytes (p: Payload): Uint8Array {
  return 'text' in p ? utf8.encode(p.text) : fromB64(p.b64)
}

/** Wire bytes as a payload for a rank: text when the job's values are JSON. */
export function bytesPayload (bytes: Uint8Array, textual: boolean): Payload {
  return textual ? { text: fromUtf8.decode(bytes) } : { b64: toB64(bytes) }
}

/** Whether an encoding spec names the json encoder, whose bytes are UTF-8 text. */
export function isJsonEncoding (spec: string | { type: string }): boolean {
  return (typeof spec === 'string' ? spec : spec.type) === 'json'
}

/** The payload a rank host put in a message, or undefined when it is malformed (a rank is not trusted). */
export function payloadOf (m: { text?: unknown, b64?: unknown }): Payload | undefined {
  if (typeof m.text === 'string') return { text: m.text }
  if (typeof m.b64 === 'string') return { b64: m.b64 }
  return undefined
}
