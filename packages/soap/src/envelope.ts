/// <reference path="./sax.d.ts" />
import { createHash, randomBytes } from 'node:crypto'
import sax from 'sax'
import type { ServiceName } from './types.js'

/**
 * SOAP 1.1 envelopes as our contract shapes them (document/literal, one `<Op>Request` element
 * whose children are qualified in the service's namespace), written and read without a WSDL
 * engine: the client knows its contract at compile time (shapes.ts), so parsing a WSDL at
 * every CLI start is cost without benefit.
 */
export const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
const WSSE_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'
const WSU_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'
const TOKEN_PROFILE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0'
const BASE64_BINARY = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary'

export function serviceNamespace (service: ServiceName): string {
  return `urn:mvm:${service.toLowerCase()}:v1`
}

export function xmlEscape (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/\r/g, '&#13;')
}

/** A codec wire object (keys in schema order; arrays are repeated elements) as XML children. */
export function wireXml (wire: Record<string, unknown>): string {
  let out = ''
  for (const [name, v] of Object.entries(wire)) {
    for (const item of Array.isArray(v) ? v : [v]) {
      if (item === undefined || item === null) continue
      const inner = typeof item === 'object' ? wireXml(item as Record<string, unknown>) : xmlEscape(String(item))
      out += `<${name}>${inner}</${name}>`
    }
  }
  return out
}

/**
 * A WS-Security UsernameToken with a PasswordDigest: Base64(SHA-1(nonce + created + key)); the
 * key itself never travels, and the nonce and time let the server refuse a replay.
 */
export function usernameTokenXml (user: string, key: string, now = new Date()): string {
  const nonce = randomBytes(16)
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z')
  const digest = createHash('sha1').update(nonce).update(created).update(key).digest('base64')
  return `<wsse:Security xmlns:wsse="${WSSE_NS}" xmlns:wsu="${WSU_NS}"><wsse:UsernameToken>` +
    `<wsse:Username>${xmlEscape(user)}</wsse:Username>` +
    `<wsse:Password Type="${TOKEN_PROFILE}#PasswordDigest">${digest}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${BASE64_BINARY}">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
}

export function requestEnvelope (service: ServiceName, op: string, wire: Record<string, unknown>, header = ''): string {
  return '<?xml version="1.0" encoding="utf-8"?>' +
    `<soap:Envelope xmlns:soap="${SOAP_ENV_NS}">` +
    (header === '' ? '' : `<soap:Header>${header}</soap:Header>`) +
    `<soap:Body><${op}Request xmlns="${serviceNamespace(service)}">${wireXml(wire)}</${op}Request></soap:Body></soap:Envelope>`
}

/**
 * XML as loose objects keyed by local name, the way the codec reads them: an element with
 * children is an object, a repeated element an array, a text-only element its text exactly as
 * sent (whitespace kept), an empty element ''. Attributes are dropped.
 */
export function parseXml (xml: string): Record<string, unknown> {
  const parser = sax.parser(true, { xmlns: true, trim: false, normalize: false, position: false })
  interface Frame { name: string, children: Record<string, unknown> | undefined, text: string }
  const root: Frame = { name: '', children: {}, text: '' }
  const stack: Frame[] = [root]
  let failure: Error | undefined
  const add = (into: Frame, name: string, value: unknown): void => {
    into.children ??= {}
    const had = into.children[name]
    if (had === undefined) into.children[name] = value
    else if (Array.isArray(had)) had.push(value)
    else into.children[name] = [had, value]
  }
  parser.onerror = (e: Error) => { failure ??= e; parser.error = null as unknown as Error }
  parser.onopentag = (tag: { local?: string, name: string }) => { stack.push({ name: tag.local ?? tag.name, children: undefined, text: '' }) }
  parser.ontext = (t: string) => { stack[stack.length - 1]!.text += t }
  parser.oncdata = (t: string) => { stack[stack.length - 1]!.text += t }
  parser.onclosetag = () => {
    const f = stack.pop()!
    add(stack[stack.length - 1]!, f.name, f.children ?? f.text)
  }
  parser.write(xml).close()
  if (failure !== undefined) throw failure
  if (stack.length !== 1) throw new Error('unbalanced XML')
  return root.children ?? {}
}
