import { DataError, ErrorCode } from '@mvm/core'
import { isHash, sha256Hex } from './digest.js'
import type { FileManifest } from './types.js'

/** Canonical JSON of a manifest: these keys in this order, no spaces. Its sha256 is the file's id. */
export function encodeManifest (m: FileManifest): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ v: m.v, size: m.size, chunk: m.chunk, chunks: m.chunks }))
}

/** The content id of a file: hex sha256 of its manifest bytes. */
export function manifestId (bytes: Uint8Array): string {
  return sha256Hex(bytes)
}

/** True for a string shaped like a content id (or a chunk name): 64 lowercase hex digits. */
export function isContentId (s: unknown): s is string {
  return isHash(s)
}

const corrupt = (why: string): DataError => new DataError(ErrorCode.DATA_CORRUPT, `not a valid manifest: ${why}`)

/**
 * Parses and validates manifest bytes. Only the canonical encoding is accepted, so one content
 * has exactly one id. Throws DataError E_DATA_CORRUPT.
 */
export function decodeManifest (bytes: Uint8Array, maxBytes?: number): FileManifest {
  if (maxBytes !== undefined && bytes.byteLength > maxBytes) throw corrupt(`${bytes.byteLength} bytes, over the ${maxBytes}-byte limit`)
  let v: unknown
  try { v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) } catch { throw corrupt('not UTF-8 JSON') }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw corrupt('not a JSON object')
  const o = v as Record<string, unknown>
  if (o.v !== 1) throw corrupt(`unsupported version ${JSON.stringify(o.v)}`)
  const { size, chunk, chunks } = o
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw corrupt('size must be a non-negative integer')
  if (typeof chunk !== 'number' || !Number.isSafeInteger(chunk) || chunk <= 0) throw corrupt('chunk must be a positive integer')
  if (!Array.isArray(chunks)) throw corrupt('chunks must be an array')
  if (chunks.length !== Math.ceil(size / chunk)) throw corrupt(`${chunks.length} chunks for ${size} bytes in ${chunk}-byte chunks`)
  for (const c of chunks) if (c !== '' && !isHash(c)) throw corrupt('a chunk name is not "" nor 64 lowercase hex digits')
  const m: FileManifest = { v: 1, size, chunk, chunks: chunks as string[] }
  if (!Buffer.from(encodeManifest(m)).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))) throw corrupt('not in canonical form')
  return m
}

/** Bytes of chunk `index` (the last one may be shorter). */
export function chunkLength (m: FileManifest, index: number): number {
  return Math.min(m.chunk, m.size - index * m.chunk)
}

/** Distinct non-zero chunk names of a file, each with its length. */
export function distinctChunks (m: FileManifest): Map<string, number> {
  const out = new Map<string, number>()
  m.chunks.forEach((h, i) => { if (h !== '' && !out.has(h)) out.set(h, chunkLength(m, i)) })
  return out
}
