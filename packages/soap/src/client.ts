import soap from 'soap'
import {
  BadRequestError, MvmError, ProtocolError, UnavailableError, combineSignals, throwIfAborted
} from '@mvm/core'
import { decode, encode } from './codec.js'
import { errorFromFault } from './faults.js'
import { operations } from './shapes.js'
import type { BootstrapClient, BrokerClient, CallOptions, NodeClient, ServiceName } from './types.js'
import { servicePath, wsdlText } from './wsdl.js'
import { deriveKey } from './auth/users.js'

/**
 * What a client proves itself with: a user's password (sent as a WS-Security UsernameToken
 * PasswordDigest of the scrypt-derived key; the password itself never travels), the derived
 * `key` itself (what `mvm user add` prints for other clients), or a bearer token.
 */
export type Credentials = { user: string, password: string } | { user: string, key: string } | { token: string }

const keys = new Map<string, string>()
function securityOf (c: Credentials): soap.ISecurity {
  if ('token' in c) return new soap.BearerSecurity(c.token)
  let key: string
  if ('key' in c) key = c.key
  else {
    // scrypt costs ~50 ms: once per user and password in a process
    const memo = `${c.user}\0${c.password}`
    key = keys.get(memo) ?? deriveKey(c.user, c.password)
    keys.set(memo, key)
  }
  return new soap.WSSecurity(c.user, key, { passwordType: 'PasswordDigest', hasTimeStamp: false, hasNonce: true, hasTokenCreated: true })
}

/** Replies larger than this are refused: a broken or hostile peer must not exhaust our memory. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED', 'ERR_BAD_RESPONSE'])

/**
 * Accepts a service endpoint (`http://h:p/mvm/Node`) or a node's base URL (`http://h:p`),
 * so callers can hold one URL per node and reach any of its services.
 */
export function serviceUrl (service: ServiceName, url: string): string {
  let u: URL
  try { u = new URL(url) } catch { throw new BadRequestError(`"${url}" is not a valid URL for the ${service} service`) }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new BadRequestError(`"${url}": SOAP endpoints are http(s) URLs`)
  u.search = ''
  u.hash = ''
  const path = u.pathname.replace(/\/+$/, '')
  const suffix = servicePath(service)
  u.pathname = path.endsWith(suffix) ? path : path + suffix
  return u.href
}

/** The contract is in the package: clients never need to fetch `?wsdl` before a call. */
const parsed = new Map<ServiceName, Promise<soap.WSDL>>()
function contract (service: ServiceName): Promise<soap.WSDL> {
  let p = parsed.get(service)
  if (p === undefined) {
    p = new Promise<soap.WSDL>((resolve, reject) => {
      const w = new soap.WSDL(wsdlText(service, 'http://localhost/'), '', {})
      w.onReady((err) => { if (err !== undefined && err !== null) reject(err); else resolve(w) })
    })
    parsed.set(service, p)
  }
  return p
}

type Caller = (op: string, req: unknown, options?: CallOptions) => Promise<any>

function makeCaller (service: ServiceName, url: string, subject?: string, credentials?: Credentials): Caller {
  let client: Promise<soap.Client> | undefined
  const ops = operations[service]
  return async (op, req, options = {}) => {
    const shape = ops[op]!
    const where = `${service}.${op}`
    // the client's subject goes on every request that can carry one, unless the call names its own
    const r = (req ?? {}) as Record<string, unknown>
    const withSubject = subject !== undefined && 'subject' in shape.input && r.subject === undefined ? { ...r, subject } : r
    const wire = encode(shape.input, withSubject, { where, fail: (m) => new BadRequestError(m) })
    throwIfAborted(options.signal)
    const signal = options.signal === undefined && options.timeoutMs === undefined
      ? undefined
      : combineSignals([options.signal], options.timeoutMs)
    // node-soap trims every string it parses unless told not to: log text (GetLogs) and any
    // other string must arrive exactly as sent. The flag lives on the shared WSDL: every client sets it.
    client ??= contract(service).then((w) => {
      const c = new soap.Client(w, url, { preserveWhitespace: true })
      if (credentials !== undefined) c.setSecurity(securityOf(credentials))
      return c
    })
    let result: unknown
    try {
      const c = await client
      const fn = (c as unknown as Record<string, (a: unknown, o: unknown) => Promise<unknown[]>>)[`${op}Async`]!
      ;[result] = await fn.call(c, wire, { signal, maxContentLength: MAX_RESPONSE_BYTES, maxBodyLength: MAX_RESPONSE_BYTES })
    } catch (err) {
      throw callError(err, signal, where, url)
    }
    return decode(shape.output, result, { where: `${where} reply`, fail: (m) => new ProtocolError(`${url}: ${m}`) })
  }
}

function callError (err: unknown, signal: AbortSignal | undefined, where: string, url: string): MvmError {
  if (err instanceof MvmError) return err
  if (signal?.aborted === true) {
    try { throwIfAborted(signal) } catch (e) { if (e instanceof MvmError) return e }
  }
  const e = err as { root?: any, code?: string, message?: string, response?: { status?: number } }
  const fault = e.root?.Envelope?.Body?.Fault
  if (fault !== undefined) return errorFromFault(fault) ?? new ProtocolError(`${where}: unreadable fault from ${url}`)
  const msg = e.message ?? String(err)
  if (e.response === undefined || (e.code !== undefined && UNREACHABLE.has(e.code))) {
    return new UnavailableError(`${where}: cannot reach ${url}: ${msg}`, { cause: err })
  }
  if (e.response.status === 404 || e.response.status === 503) {
    return new UnavailableError(`${where}: ${url} answered HTTP ${e.response.status}: no such SOAP service there`, { cause: err })
  }
  return new ProtocolError(`${where}: unexpected reply from ${url}: ${msg}`, { cause: err })
}

export interface ClientOptions { credentials?: Credentials | undefined }

export function createBootstrapClient (url: string, options: ClientOptions = {}): BootstrapClient {
  const u = serviceUrl('Bootstrap', url)
  const call = makeCaller('Bootstrap', u, undefined, options.credentials)
  return {
    url: u,
    GetBrokers: async (req, o) => call('GetBrokers', req, o),
    RegisterSuperPeer: async (req, o) => call('RegisterSuperPeer', req, o),
    GetResources: async (req, o) => call('GetResources', req, o)
  }
}

export function createNodeClient (url: string, options: ClientOptions = {}): NodeClient {
  const u = serviceUrl('Node', url)
  const call = makeCaller('Node', u, undefined, options.credentials)
  return {
    url: u,
    GetStatus: async (o) => call('GetStatus', {}, o),
    Awaken: async (req, o) => call('Awaken', req, o),
    Terminate: async (req, o) => call('Terminate', req, o),
    ListProcesses: async (o) => call('ListProcesses', {}, o),
    GetLogs: async (req, o) => call('GetLogs', req, o)
  }
}

/** Default and largest wait of WaitJob/WaitJobs (the server's HTTP request timeout is 30 s). */
export const WAIT_DEFAULT_MS = 20_000
export const WAIT_MAX_MS = 25_000

/** A long poll must not be cut by the caller's own timeout before the server answers. */
function waitOptions (timeoutMs: number | undefined, o: CallOptions | undefined): CallOptions {
  if (o?.timeoutMs !== undefined) return o
  const wait = Math.min(Math.max(timeoutMs ?? WAIT_DEFAULT_MS, 0), WAIT_MAX_MS)
  return { ...o, timeoutMs: wait + 10_000 }
}

/** `subject`: who the client acts for, sent on every request but SubmitJob (whose `owner` says it). */
export function createBrokerClient (url: string, options: { subject?: string } & ClientOptions = {}): BrokerClient {
  const u = serviceUrl('Broker', url)
  const call = makeCaller('Broker', u, options.subject, options.credentials)
  const c = options.credentials
  return {
    url: u,
    // Basic carries the password (checked as a UsernameToken's PasswordText is): loopback or HTTPS only
    ...(c === undefined ? {} : { httpAuthorization: 'token' in c ? `Bearer ${c.token}` : `Basic ${Buffer.from(`${c.user}:${'key' in c ? c.key : c.password}`).toString('base64')}` }),
    ListNodes: async (req, o) => call('ListNodes', req, o),
    GetNode: async (req, o) => call('GetNode', req, o),
    SubmitJob: async (req, o) => call('SubmitJob', req, o),
    GetJob: async (req, o) => call('GetJob', req, o),
    ListJobs: async (req, o) => call('ListJobs', req, o),
    ListHistory: async (req, o) => call('ListHistory', req, o),
    CancelJob: async (req, o) => call('CancelJob', req, o),
    ReleaseJob: async (req, o) => call('ReleaseJob', req, o),
    HoldJob: async (req, o) => call('HoldJob', req, o),
    CheckpointJob: async (req, o) => call('CheckpointJob', req, o),
    ResizeJob: async (req, o) => call('ResizeJob', req, o),
    RequeueJob: async (req, o) => call('RequeueJob', req, o),
    GetJobResult: async (req, o) => call('GetJobResult', req, o),
    ApplyPolicy: async (req, o) => call('ApplyPolicy', req, o),
    GetPolicy: async (o, req) => call('GetPolicy', req ?? {}, o),
    GetJobLogs: async (req, o) => call('GetJobLogs', req, o),
    SubmitJobs: async (req, o) => call('SubmitJobs', req, o),
    WaitJob: async (req, o) => call('WaitJob', req, waitOptions(req.timeoutMs, o)),
    WaitJobs: async (req, o) => call('WaitJobs', req, waitOptions(req.timeoutMs, o)),
    PutData: async (req, o) => call('PutData', req, o),
    GetData: async (req, o) => call('GetData', req, o),
    ListData: async (req, o) => call('ListData', req ?? {}, o),
    RemoveData: async (req, o) => call('RemoveData', req, o),
    Reserve: async (req, o) => call('Reserve', req, o)
  }
}
