import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { BadRequestError, ConfigError, silentLogger, throwIfAborted, toMvmError, type Logger } from '@mvm/core'
import { faultEnvelope } from './faults.js'
import { DEFAULT_MAX_DRAIN_BYTES, DEFAULT_MAX_REQUEST_BYTES, Rejection, discardRest, readBody, screen, soapActionOf } from './guard.js'
import { mountService, type MountedService, type SoapAuthorize, type SoapCallObserver } from './service.js'
import { namespaces } from './shapes.js'
import { ServiceName, type ServiceHandlers } from './types.js'
import { servicePath, wsdlText, type SecurityDeclaration } from './wsdl.js'
import type { AuthenticateAsync } from './auth/authenticate.js'

/**
 * A plain HTTP handler served next to the SOAP services (a web view, `/metrics`). It answers the
 * request itself; an error it throws becomes a 500.
 */
export type HttpRouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>

export interface SoapServerInit {
  /** HTTPS with this certificate (PEM, chain first) and key; plain HTTP without. */
  tls?: { cert: string | Buffer, key: string | Buffer }
  /** Interface to bind; 127.0.0.1 unless the node is meant to be reached from other hosts. */
  host?: string
  port?: number
  /** Only the services given are mounted; the others answer 404. */
  services: ServiceHandlers
  maxRequestBytes?: number
  /** How much of an oversized body is read and discarded so its 413 reaches the client (default 128 MiB). */
  maxDrainBytes?: number
  /**
   * Base URL other hosts use to reach this server (e.g. `http://10.0.0.5:7070`), written into
   * each WSDL's soap:address. Defaults to `http://<host>:<port>`, which is wrong for 0.0.0.0.
   */
  publicBaseUrl?: string
  logger?: Logger
  /** Told of every call that reached an operation, once it is answered (metrics). */
  onCall?: SoapCallObserver
  /**
   * Establishes who calls (WS-Security UsernameToken or bearer token, see createAuthenticator);
   * throws to refuse the call with a fault. Without it every caller is unauthenticated.
   */
  authenticate?: AuthenticateAsync
  /** Checked before every operation's handler (roles and permissions); throws to refuse. */
  authorize?: SoapAuthorize
  /** What the served WSDLs declare about credentials (default none). */
  security?: SecurityDeclaration
  signal?: AbortSignal
}

export interface SoapServer {
  readonly port: number
  /** `http://host:port`, no trailing slash. */
  readonly baseUrl: string
  /** The endpoint URL of a service, e.g. `http://127.0.0.1:7070/mvm/Node`. */
  urlOf: (service: ServiceName) => string
  /**
   * Serves `prefix` (e.g. `/metrics`, `/ui`: that path and everything below it) with `handler`;
   * the longest matching prefix wins; SOAP service paths always take precedence.
   */
  route: (prefix: string, handler: HttpRouteHandler) => void
  close: () => Promise<void>
}

const XML_TYPE = 'text/xml; charset=utf-8'

export async function startSoapServer (init: SoapServerInit): Promise<SoapServer> {
  throwIfAborted(init.signal)
  const host = init.host ?? '127.0.0.1'
  const maxBytes = init.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES
  if (!Number.isInteger(maxBytes) || maxBytes < 1024) throw new ConfigError(`maxRequestBytes must be an integer >= 1024, got ${maxBytes}`)
  const maxDrain = init.maxDrainBytes ?? DEFAULT_MAX_DRAIN_BYTES
  if (!Number.isInteger(maxDrain) || maxDrain < 0) throw new ConfigError(`maxDrainBytes must be an integer >= 0, got ${maxDrain}`)
  const log = init.logger ?? silentLogger()
  const mounted = new Map<string, MountedService>()
  const routes = new Map<string, HttpRouteHandler>()
  const routeOf = (path: string): HttpRouteHandler | undefined => {
    let best: string | undefined
    for (const prefix of routes.keys()) {
      if ((path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : prefix + '/')) && (best === undefined || prefix.length > best.length)) best = prefix
    }
    return best === undefined ? undefined : routes.get(best)
  }
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    serve(req, res).catch((err) => {
      log.error({ err }, 'SOAP request failed outside any operation')
      if (!res.headersSent) reply(res, 500, XML_TYPE, faultEnvelope(err, namespaces.Node))
      else res.destroy()
    })
  }
  const timeouts = { requestTimeout: 30_000, headersTimeout: 10_000 }
  const http = init.tls === undefined ? createServer(timeouts, onRequest) : createHttpsServer({ ...timeouts, cert: init.tls.cert, key: init.tls.key }, onRequest)

  async function serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://placeholder')
    const svc = mounted.get(url.pathname.replace(/\/+$/, ''))
    const route = svc === undefined ? routeOf(url.pathname) : undefined
    if (route !== undefined) { await route(req, res, url); return }
    if (svc === undefined) { reply(res, 404, 'text/plain; charset=utf-8', `no SOAP service at ${url.pathname}\n`); return }
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (url.search.toLowerCase().startsWith('?wsdl')) { reply(res, 200, XML_TYPE, svc.wsdl); return }
      reply(res, 404, 'text/plain; charset=utf-8', `GET ${url.pathname}?wsdl for the contract; calls are POSTed\n`)
      return
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'GET, POST')
      reply(res, 405, 'text/plain; charset=utf-8', `${req.method ?? ''} is not allowed\n`)
      return
    }
    const ns = namespaces[svc.name]
    try {
      const text = screen(await readBody(req, maxBytes))
      const out = await svc.handle(text, soapActionOf(req), req.socket.remoteAddress ?? '', req.headers.authorization)
      reply(res, out.status, XML_TYPE, out.body)
    } catch (err) {
      if (!(err instanceof Rejection)) throw err
      log.debug({ status: err.status, code: err.error.code, remote: req.socket.remoteAddress }, err.error.message)
      if (err.status === 413 || err.status === 415) {
        // closing with unread bytes makes the kernel answer the client with a reset, which a client
        // still writing its body sees instead of the 413: read the rest (bounded) first, then close
        res.setHeader('Connection', 'close')
        const drained = await discardRest(req, maxDrain)
        if (!drained && req.destroyed) return
      }
      reply(res, err.status, XML_TYPE, faultEnvelope(err.error, ns))
    }
  }

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => { reject(toMvmError(err)) }
    http.once('error', onError)
    http.listen(init.port ?? 0, host, () => { http.off('error', onError); resolve() })
  })
  http.on('clientError', (_err, socket) => { socket.destroy() })
  const port = (http.address() as AddressInfo).port
  const scheme = init.tls === undefined ? 'http' : 'https'
  const baseUrl = (init.publicBaseUrl ?? `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`).replace(/\/+$/, '')
  const urlOf = (service: ServiceName): string => {
    if (!Object.hasOwn(ServiceName, service)) throw new BadRequestError(`unknown SOAP service "${String(service)}"`)
    return baseUrl + servicePath(service)
  }

  const route = (prefix: string, handler: HttpRouteHandler): void => {
    if (!prefix.startsWith('/')) throw new ConfigError(`an HTTP route must start with "/", got "${prefix}"`)
    routes.set(prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix, handler)
  }

  let closed: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closed ??= new Promise<void>((resolve) => {
      http.close(() => { resolve() })
      http.closeAllConnections()
    })
    await closed
  }

  try {
    for (const name of Object.values(ServiceName)) {
      const handlers = init.services[name]
      if (handlers === undefined) continue
      mounted.set(servicePath(name), await mountService(name, handlers as Record<string, never>, wsdlText(name, urlOf(name), { security: init.security ?? 'none' }), log, init.onCall, init.authenticate, init.authorize))
    }
    if (mounted.size === 0) throw new ConfigError('startSoapServer: no service given (expected one of Bootstrap, Node, Broker)')
    throwIfAborted(init.signal)
  } catch (err) {
    await close()
    throw err
  }
  init.signal?.addEventListener('abort', () => { void close() }, { once: true })
  log.info({ baseUrl, services: [...mounted.values()].map((s) => s.name) }, 'SOAP server listening')
  return { port, baseUrl, urlOf, route, close }
}

function reply (res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status
  res.setHeader('Content-Type', type)
  res.setHeader('Content-Length', Buffer.byteLength(body))
  res.end(body)
}

