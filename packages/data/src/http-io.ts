import type { IncomingMessage, ServerResponse } from 'node:http'
import { BadRequestError, ErrorCode, toMvmError, type MvmError } from '@mvm/core'

/** A request body over its bound (HTTP 413). */
export class BodyTooLargeError extends BadRequestError {
  constructor (limit: number) {
    super(`the request body is over the ${limit}-byte limit`, { data: { limit } })
    this.name = 'BodyTooLargeError'
  }
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is
 * refused before anything is read; a body that grows past it is cut off.
 */
export async function readBody (req: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN)
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit)
  const parts: Buffer[] = []
  let n = 0
  for await (const part of req as AsyncIterable<Buffer>) {
    n += part.byteLength
    if (n > limit) throw new BodyTooLargeError(limit)
    parts.push(part)
  }
  return Buffer.concat(parts, n)
}

/** A method a route does not take (HTTP 405). */
export class MethodNotAllowedError extends BadRequestError {
  constructor (method: string, allowed: string[]) {
    super(`method ${method} not allowed here (allowed: ${allowed.join(', ')})`, { data: { allow: allowed } })
    this.name = 'MethodNotAllowedError'
  }
}

const STATUS: Partial<Record<string, number>> = {
  [ErrorCode.DATA_CORRUPT]: 400,
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.VALIDATION]: 400,
  [ErrorCode.DATA_MISSING]: 409,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.FORBIDDEN]: 403,
  [ErrorCode.DATA_FULL]: 507,
  [ErrorCode.DATA_UNAVAILABLE]: 503,
  [ErrorCode.UNAVAILABLE]: 503,
  [ErrorCode.TIMEOUT]: 504
}

export function statusOf (e: MvmError): number {
  if (e instanceof BodyTooLargeError) return 413
  if (e instanceof MethodNotAllowedError) return 405
  return STATUS[e.code] ?? 500
}

export function sendJson (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** An error as JSON `{code, message}` (plus `missing` when it names absent chunks). */
export function sendError (req: IncomingMessage, res: ServerResponse, err: unknown, extra: Record<string, unknown> = {}): void {
  const e = toMvmError(err)
  if (res.headersSent) { res.destroy(e); return }
  const status = statusOf(e)
  // a refused body may still be arriving: close the connection rather than read it
  const headers: Record<string, string> = status === 413 || !req.complete ? { connection: 'close' } : {}
  sendJson(res, status, { code: e.code, message: status === 500 ? `internal error: ${e.message}` : e.message, ...extra }, headers)
}

/** Resolves when the response can take more bytes (or is gone). */
export async function drained (res: ServerResponse): Promise<void> {
  if (!res.writableNeedDrain || res.destroyed) return
  await new Promise<void>((resolve) => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
    res.on('drain', done)
    res.on('close', done)
  })
}
