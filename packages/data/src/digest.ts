import { createHash } from 'node:crypto'

/** Lowercase hex sha256 of `bytes`: the name of a chunk, and of a file's manifest. */
export function sha256Hex (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** sha256Hex of the parts joined, without joining them. */
export function sha256Parts (parts: readonly Uint8Array[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p)
  return h.digest('hex')
}

let zeros = new Uint8Array(0)

/** True when every byte is 0 (such a chunk is recorded as "" and never stored nor sent). */
export function isAllZero (bytes: Uint8Array): boolean {
  if (zeros.byteLength < bytes.byteLength) zeros = new Uint8Array(bytes.byteLength)
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).equals(Buffer.from(zeros.buffer, 0, bytes.byteLength))
}

const HEX64 = /^[0-9a-f]{64}$/

/** A chunk name or a content id: 64 lowercase hex digits. */
export function isHash (s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s)
}
