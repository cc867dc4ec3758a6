import { ErrorCode, type MvmError, ProtocolError, errorFromJSON, toMvmError, type SerializedError } from '@mvm/core'

/** Codes that mean "the request was wrong": SOAP 1.1 puts the blame on the Client for these. */
const CLIENT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.VALIDATION, ErrorCode.BAD_REQUEST, ErrorCode.NOT_FOUND, ErrorCode.UNAUTHORIZED, ErrorCode.UNAUTHENTICATED, ErrorCode.FORBIDDEN,
  ErrorCode.NOT_ADMITTED, ErrorCode.UNSUPPORTED_VERSION, ErrorCode.FRAME_TOO_LARGE,
  ErrorCode.INVALID_STATE, ErrorCode.UNKNOWN_COMPONENT, ErrorCode.CONFIG
])

export interface FaultParts {
  faultcode: 'soap:Client' | 'soap:Server'
  faultstring: string
  detail: { code: string, message: string, name: string, retryable: boolean, dataJson?: string }
}

export function faultParts (err: unknown): FaultParts {
  const e = toMvmError(err)
  const detail: FaultParts['detail'] = { code: e.code, message: e.message, name: e.name, retryable: e.retryable }
  if (e.data !== undefined) {
    try { detail.dataJson = JSON.stringify(e.data) } catch { /* data that cannot travel stays home */ }
  }
  return { faultcode: CLIENT_CODES.has(e.code) ? 'soap:Client' : 'soap:Server', faultstring: e.message, detail }
}

/**
 * What node-soap needs thrown to answer a SOAP 1.1 fault (a thrown Error would give a
 * SOAP 1.2-shaped one). WS-I Basic Profile: every fault travels with HTTP 500.
 */
export function soapFault (err: unknown, ns: string): { Fault: Record<string, unknown> } {
  const p = faultParts(err)
  return {
    Fault: {
      faultcode: p.faultcode,
      faultstring: p.faultstring,
      // the xmlns attribute puts MvmFault and its children in the WSDL's namespace (tns:MvmFault)
      detail: { MvmFault: { attributes: { xmlns: ns }, ...p.detail } },
      statusCode: 500
    }
  }
}

function xmlEscape (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** A whole fault envelope, for requests rejected before node-soap ever sees them. */
export function faultEnvelope (err: unknown, ns: string): string {
  const p = faultParts(err)
  const d = p.detail
  return '<?xml version="1.0" encoding="utf-8"?>' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>' +
    `<faultcode>${p.faultcode}</faultcode><faultstring>${xmlEscape(p.faultstring)}</faultstring>` +
    `<detail><MvmFault xmlns="${xmlEscape(ns)}"><code>${xmlEscape(d.code)}</code><message>${xmlEscape(d.message)}</message>` +
    `<name>${xmlEscape(d.name)}</name><retryable>${String(d.retryable)}</retryable>` +
    (d.dataJson === undefined ? '' : `<dataJson>${xmlEscape(d.dataJson)}</dataJson>`) +
    '</MvmFault></detail></soap:Fault></soap:Body></soap:Envelope>'
}

/** Rebuilds the typed error from a parsed fault (node-soap's `err.root.Envelope.Body.Fault`). */
export function errorFromFault (fault: unknown): MvmError | undefined {
  if (typeof fault !== 'object' || fault === null) return undefined
  const f = fault as { faultcode?: unknown, faultstring?: unknown, detail?: unknown }
  const faultstring = typeof f.faultstring === 'string' ? f.faultstring : 'SOAP fault'
  const detail = (typeof f.detail === 'object' && f.detail !== null ? (f.detail as Record<string, unknown>).MvmFault : undefined) as
    Record<string, unknown> | undefined
  if (detail === undefined || typeof detail.code !== 'string') {
    return new ProtocolError(`${String(f.faultcode ?? 'soap:Server')}: ${faultstring}`)
  }
  const s: SerializedError = { code: detail.code, message: typeof detail.message === 'string' ? detail.message : faultstring }
  if (typeof detail.name === 'string') s.name = detail.name
  if (detail.retryable !== undefined) s.retryable = String(detail.retryable) === 'true'
  if (typeof detail.dataJson === 'string') {
    try { s.data = JSON.parse(detail.dataJson) } catch { s.data = detail.dataJson }
  }
  return errorFromJSON(s)
}
