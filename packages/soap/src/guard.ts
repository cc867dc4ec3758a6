import type { IncomingMessage } from 'node:http'
import { BadRequestError, FrameTooLargeError, type MvmError } from '@mvm/core'

/**
 * The request filter in front of node-soap. node-soap reads whole bodies without a limit,
 * gunzips on request, and lets sax skip a DOCTYPE silently; sax does not expand entities
 * declared in a DTD, but the filter refuses DTDs outright so no later parser change can
 * reopen XXE or billion-laughs. Everything here runs before any XML parsing.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024

/**
 * How much of an oversized body is read and thrown away before the 413 goes out. A client that
 * writes its whole body before reading (Python's http.client, many SOAP stacks) sees a reset
 * instead of the answer when the server closes with unread bytes in the socket; draining costs
 * bandwidth but no memory, so it is bounded in bytes here and in time by the server's request timeout.
 */
export const DEFAULT_MAX_DRAIN_BYTES = 128 * 1024 * 1024

const SOAP11_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
const SOAP12_ENV = 'http://www.w3.org/2003/05/soap-envelope'

/** A request refused by the filter: the HTTP status and the error for the fault body. */
export class Rejection {
  constructor (readonly status: number, readonly error: MvmError) {}
}

/**
 * Reads and discards the rest of a refused body, up to `maxDrain` bytes in all. Resolves true
 * once the body ended (the reply can go out and the client will read it), false when the body
 * is longer than the bound or the request broke (the caller closes the connection).
 */
export async function discardRest (req: IncomingMessage, maxDrain: number): Promise<boolean> {
  if (req.readableEnded) return true
  if (req.destroyed) return false
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxDrain) return false
  return await new Promise<boolean>((resolve) => {
    let seen = 0
    const done = (ok: boolean): void => {
      req.off('data', onData); req.off('end', onEnd); req.off('error', onFail); req.off('close', onClose)
      resolve(ok)
    }
    const onData = (chunk: Buffer): void => {
      seen += chunk.length
      if (seen > maxDrain) { req.pause(); done(false) }
    }
    const onEnd = (): void => { done(true) }
    const onFail = (): void => { done(false) }
    const onClose = (): void => { done(req.readableEnded) }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onFail)
    req.once('close', onClose)
    req.resume()
  })
}

/** Reads the body, refusing it (413) as soon as it passes `maxBytes`. */
export async function readBody (req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const enc = req.headers['content-encoding']
  if (enc !== undefined && enc.toLowerCase() !== 'identity') {
    throw new Rejection(415, new BadRequestError(`Content-Encoding "${enc}" is not accepted; send the envelope uncompressed`))
  }
  const tooLarge = (): Rejection =>
    new Rejection(413, new FrameTooLargeError(`request body exceeds ${maxBytes} bytes`, { data: { maxBytes } }))
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge()
  // events, not for-await: leaving a for-await destroys the request, and the 413 with it
  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= maxBytes) { chunks.push(chunk); return }
      req.off('data', onData)
      req.pause()
      reject(tooLarge())
    }
    req.on('data', onData)
    req.once('end', () => { resolve(Buffer.concat(chunks, size)) })
    req.once('error', reject)
  })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Checks what can be checked without parsing; returns the envelope text. */
export function screen (body: Buffer): string {
  let text: string
  try { text = utf8.decode(body) } catch { throw new Rejection(400, new BadRequestError('request body is not UTF-8 text')) }
  const start = text.trimStart()
  if (start === '') throw new Rejection(400, new BadRequestError('request body is empty; expected a SOAP 1.1 envelope'))
  if (!start.startsWith('<')) throw new Rejection(400, new BadRequestError('request body is not XML; expected a SOAP 1.1 envelope'))
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text)) {
    throw new Rejection(400, new BadRequestError('DTDs are not accepted: the request contains <!DOCTYPE> or <!ENTITY>'))
  }
  if (!text.includes(SOAP11_ENV)) {
    const why = text.includes(SOAP12_ENV) ? 'a SOAP 1.2 envelope was sent; this service speaks SOAP 1.1' : 'no SOAP 1.1 envelope namespace in the request'
    throw new Rejection(400, new BadRequestError(why))
  }
  return text
}

/** SOAPAction arrives quoted ("urn:x#Op"), bare, or empty. */
export function soapActionOf (req: IncomingMessage): string | undefined {
  const raw = req.headers.soapaction
  const v = (Array.isArray(raw) ? raw[0] : raw)?.trim()
  if (v === undefined) return undefined
  const unq = v.startsWith('"') && v.endsWith('"') && v.length >= 2 ? v.slice(1, -1) : v
  return unq === '' ? undefined : unq
}
