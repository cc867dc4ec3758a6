import type soapTypes from 'soap'
import { BadRequestError, MvmError, UnavailableError, type Logger } from '@mvm/core'
import { decode, encode } from './codec.js'
import { faultEnvelope, soapFault } from './faults.js'
import { Rejection } from './guard.js'
import { namespaces, operationOfElement, operations, requestElement } from './shapes.js'
import type { Caller, Handler, ServiceName } from './types.js'
import type { AuthenticateAsync } from './auth/authenticate.js'
import { servicePath } from './wsdl.js'

/** One mounted service: node-soap in serverless mode, fed only envelopes the guard let through. */
export interface MountedService {
  readonly name: ServiceName
  readonly wsdl: string
  handle: (xml: string, soapAction: string | undefined, remoteAddress: string, authorization?: string) => Promise<{ status: number, body: string }>
}

type AnyHandlers = Partial<Record<string, Handler<any, any>>>

/** One SOAP call as an observer sees it after it was answered: `result` is `ok` or the fault's code. */
export interface SoapCallObservation {
  service: ServiceName
  operation: string
  result: string
  seconds: number
  /** Who called, as authentication established it (absent: refused before that was known). */
  caller?: Caller
  remoteAddress: string
  /** The job the call named or created, if any (for the audit log). */
  jobId?: string
  /** The identity the request named (`subject`, else `owner`), signed or not. */
  subject?: string
}
export type SoapCallObserver = (call: SoapCallObservation) => void

/** node-soap rebuilds the request from url, method, headers and connection only: the caller rides in `connection`. */
interface CallRequest { connection?: { remoteAddress?: string, caller?: Caller } }

/** The job id a request names, for observers (audit): the top-level `jobId` field when there is one. */
function jobIdOf (args: unknown): string | undefined {
  const v = (args as { jobId?: unknown } | undefined)?.jobId
  return typeof v === 'string' ? v : undefined
}

function claimOf (args: unknown): string | undefined {
  const r = args as { subject?: unknown, owner?: unknown } | undefined
  for (const v of [r?.subject, r?.owner]) if (typeof v === 'string' && v !== '') return v
  return undefined
}

/** One call as the access check sees it, after its request was decoded and before its handler runs. */
export interface SoapCallAccess { service: ServiceName, operation: string, request: unknown, caller: Caller, remoteAddress: string }
/** Throws (E_FORBIDDEN) to refuse a call; runs before every operation's handler. */
export type SoapAuthorize = (call: SoapCallAccess) => void

interface Engine { wsdl: soapTypes.WSDL, server: soapTypes.Server }

export async function mountService (name: ServiceName, handlers: AnyHandlers, wsdlXml: string, log: Logger, onCall?: SoapCallObserver, authenticate?: AuthenticateAsync, authorize?: SoapAuthorize): Promise<MountedService> {
  const ns = namespaces[name]
  const ops = operations[name]
  const methods: Record<string, (args: unknown, cb: unknown, headers: unknown, req: CallRequest) => Promise<unknown>> = {}
  const notify = (o: SoapCallObservation): void => {
    if (onCall === undefined) return
    // an observer's failure must not turn an answered call into a fault
    try { onCall(o) } catch (err) { log.warn({ err }, 'SOAP call observer failed') }
  }

  for (const [op, shape] of Object.entries(ops)) {
    methods[op] = async (args, _cb, _headers, req) => {
      const where = `${name}.${op}`
      const started = process.hrtime.bigint()
      const remoteAddress = req.connection?.remoteAddress ?? ''
      const caller = req.connection?.caller ?? { method: 'none' as const }
      let jobId = jobIdOf(args)
      const subject = claimOf(args)
      const observe = (result: string): void => {
        notify({ service: name, operation: op, result, seconds: Number(process.hrtime.bigint() - started) / 1e9, caller, remoteAddress, ...(jobId !== undefined ? { jobId } : {}), ...(subject !== undefined ? { subject } : {}) })
      }
      try {
        const input = decode(shape.input, args, { where, fail: (m) => new BadRequestError(m) })
        // refused before anything else is said about the operation, even that this node lacks it
        authorize?.({ service: name, operation: op, request: input, caller, remoteAddress })
        const h = handlers[op]
        if (h === undefined) throw new UnavailableError(`operation ${op} is not served by this node`)
        const output = await h(input, { remoteAddress, caller })
        // a handler returning a malformed result is our bug: report it as internal, naming the field
        const encoded = encode(shape.output, output, { where: `${where} result`, fail: (m) => new MvmError('E_INTERNAL', m) })
        jobId ??= jobIdOf(output)
        observe('ok')
        return encoded
      } catch (err) {
        observe(err instanceof MvmError ? err.code : 'E_INTERNAL')
        if (!(err instanceof MvmError) || err.code === 'E_INTERNAL') log.warn({ err, op: where }, 'SOAP operation failed')
        else if (err.code === 'E_FORBIDDEN') log.warn({ op: where, user: caller.user, remote: remoteAddress, reason: err.message }, 'SOAP call refused')
        throw soapFault(err, ns)
      }
    }
  }

  const path = servicePath(name)
  const services = { [`${name}Service`]: { [`${name}Port`]: methods } }
  // node-soap (~100 ms of module loading) and the parse of this WSDL (10-50 ms) are paid at the
  // service's first call, not at start: most nodes are never called on most of their services
  // (a peer's Node service serves only log reads), and every test lab starts several nodes.
  let engine: Promise<Engine> | undefined
  const engineOf = async (): Promise<Engine> => {
    engine ??= loadEngine().catch((err: unknown) => { engine = undefined; throw err })
    return await engine
  }
  let parsedLast: { xml: string, obj: unknown } | undefined
  const loadEngine = async (): Promise<Engine> => {
    // named, not default: under tsx the default of this CommonJS module (it sets __esModule) is undefined
    const { WSDL, Server } = await import('soap')
    const wsdl = new WSDL(wsdlXml, '', {})
    // operationOf parses each envelope to check it; node-soap then parses it again on the same
    // WSDL object, synchronously within the same call. Hand it that parse instead of redoing it.
    const parse = wsdl.xmlToObject.bind(wsdl) as (xml: string, cb?: unknown) => any
    ;(wsdl as unknown as { xmlToObject: (xml: string, cb?: unknown) => any }).xmlToObject = (xml, cb) => {
      const memo = parsedLast
      parsedLast = undefined
      if (cb === undefined && memo !== undefined && memo.xml === xml) return memo.obj
      return parse(xml, cb)
    }
    const server = await new Promise<soapTypes.Server>((resolve, reject) => {
      const s: soapTypes.Server = new Server(null, path, services as any, wsdl, {
        path,
        services: services as any,
        suppressStack: true,
        callback: (err: unknown) => { if (err !== undefined && err !== null) reject(err); else resolve(s) }
      })
    })
    return { wsdl, server }
  }

  const unknownOp = (element: string): Rejection =>
    new Rejection(400, new BadRequestError(`${name} has no operation with request element "${element}"; expected one of ${Object.keys(ops).map(requestElement).join(', ')}`))

  /** The operation a request names, or a Rejection saying why it names none we serve. */
  const operationOf = (wsdl: soapTypes.WSDL, xml: string, soapAction: string | undefined): { op: string, header: unknown } => {
    // name the operation first: node-soap's parser fails obscurely on elements the WSDL lacks
    const first = /<(?:[\w.-]+:)?Body\b[^>]*>\s*<(?:[\w.-]+:)?([\w.-]+)/.exec(xml)?.[1]
    if (first !== undefined && operationOfElement(ops, first) === undefined) throw unknownOp(first)
    let parsed: any
    try {
      parsed = wsdl.xmlToObject(xml)
      parsedLast = { xml, obj: parsed }
    } catch (err) {
      const f = (err as { Fault?: { detail?: unknown } }).Fault
      const why = f !== undefined ? `malformed XML: ${String(f.detail)}` : `the envelope does not fit the ${name} contract: ${(err as Error).message}`
      throw new Rejection(400, new BadRequestError(why.split('\n').join(' ')))
    }
    const body = parsed?.Body
    if (typeof body !== 'object' || body === null) throw new Rejection(400, new BadRequestError('the envelope has no SOAP Body'))
    const element = Object.keys(body).find((k) => k !== 'attributes')
    const op = element === undefined ? undefined : operationOfElement(ops, element)
    if (op === undefined) throw unknownOp(element ?? '(empty Body)')
    if (soapAction !== undefined && soapAction !== `${ns}#${op}` && soapAction !== op) {
      throw new Rejection(400, new BadRequestError(`SOAPAction "${soapAction}" does not match the body element ${element!} (expected "${ns}#${op}")`))
    }
    return { op, header: parsed?.Header }
  }

  return {
    name,
    wsdl: wsdlXml,
    async handle (xml, soapAction, remoteAddress, authorization) {
      const { wsdl, server } = await engineOf()
      const { op, header } = operationOf(wsdl, xml, soapAction)
      let caller: Caller = { method: 'none' }
      if (authenticate !== undefined) {
        try {
          caller = await authenticate({ header, authorization, remoteAddress, service: name, operation: op })
        } catch (err) {
          const e = err instanceof MvmError ? err : new MvmError('E_INTERNAL', String(err))
          log.warn({ op: `${name}.${op}`, remote: remoteAddress, code: e.code, reason: e.message }, 'SOAP call not authenticated')
          notify({ service: name, operation: op, result: e.code, seconds: 0, remoteAddress })
          return { status: 500, body: faultEnvelope(e, ns) }
        }
      }
      // node-soap picks the method by SOAPAction when one is sent: give it the canonical one
      const res = await server.processRequest(xml, {
        url: path,
        method: 'POST',
        headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${ns}#${op}"` },
        connection: { remoteAddress, caller }
      } as never)
      return { status: res.statusCode, body: res.body }
    }
  }
}
