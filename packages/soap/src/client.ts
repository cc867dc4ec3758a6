import {
  BadRequestError, MvmError, ProtocolError, UnavailableError, combineSignals, throwIfAborted
} from '@mvm/core'
import { decode, encode } from './codec.js'
import { errorFromFault } from './faults.js'
import { operations } from './shapes.js'
import type { BootstrapClient, BrokerClient, CallOptions, NodeClient, ServiceName } from './types.js'
import { servicePath } from './wsdl.js'
import { parseXml, requestEnvelope, serviceNamespace, usernameTokenXml } from './envelope.js'
import { deriveKey } from './auth/users.js'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'

/**
 * What a client proves itself with: a user's password (sent as a WS-Security UsernameToken
 * PasswordDigest of the scrypt-derived key; the password itself never travels), the derived
 * `key` itself (what `mvm user add` prints for other clients), or a bearer token.
 */
export type Credentials = { user: string, password: string } | { user: string, key: string } | { token: string }

const keys = new Map<string, string>()
/** The key a UsernameToken digest is made with: scrypt costs ~50 ms, so once per user and password in a process. */
function keyOf (c: { user: string, password: string } | { user: string, key: string }): string {
  if ('key' in c) return c.key
  const memo = `${c.user}\0${c.password}`
  const key = keys.get(memo) ?? deriveKey(c.user, c.password)
  keys.set(memo, key)
  return key
}

/** Replies larger than this are refused: a broken or hostile peer must not exhaust our memory. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

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

type Caller = (op: string, req: unknown, options?: CallOptions) => Promise<any>

/**
 * One call is one HTTP POST of an envelope built from the contract's shapes (envelope.ts) and
 * one parse of the reply: no WSDL engine, so a CLI call loads little and starts fast.
 */
function makeCaller (service: ServiceName, url: string, subject?: string, credentials?: Credentials): Caller {
  const ops = operations[service]
  const ns = serviceNamespace(service)
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
    const headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8', soapaction: `"${ns}#${op}"` }
    let header = ''
    if (credentials !== undefined) {
      if ('token' in credentials) headers.authorization = `Bearer ${credentials.token}`
      else header = usernameTokenXml(credentials.user, keyOf(credentials))
    }
    let status: number
    let text: string
    try {
      ({ status, text } = await post(url, headers, requestEnvelope(service, op, wire, header), signal, where))
    } catch (err) {
      throw callError(err, signal, where, url)
    }
    let body: Record<string, unknown> | undefined
    try {
      body = (parseXml(text).Envelope as Record<string, unknown> | undefined)?.Body as Record<string, unknown> | undefined
    } catch { body = undefined }
    const fault = body?.Fault
    if (fault !== undefined) throw errorFromFault(fault) ?? new ProtocolError(`${where}: unreadable fault from ${url}`)
    if (status === 404 || status === 503) throw new UnavailableError(`${where}: ${url} answered HTTP ${status}: no such SOAP service there`)
    const result = body?.[`${op}Response`]
    if (status !== 200 || body === undefined || result === undefined) {
      throw new ProtocolError(`${where}: unexpected reply from ${url}: HTTP ${status}${body === undefined ? ', not a SOAP envelope' : `, no ${op}Response`}`)
    }
    return decode(shape.output, result, { where: `${where} reply`, fail: (m) => new ProtocolError(`${url}: ${m}`) })
  }
}

/**
 * One POST with node:http(s) (fetch refuses ports such as 6000 or 10080, which a lab may use);
 * the reply is read up to MAX_RESPONSE_BYTES. Idle keep-alive sockets do not hold the process.
 */
async function post (url: string, headers: Record<string, string>, body: string, signal: AbortSignal | undefined, where: string): Promise<{ status: number, text: string }> {
  const u = new URL(url)
  const payload = Buffer.from(body, 'utf8')
  return await new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(payload.byteLength) },
      ...(signal === undefined ? {} : { signal })
    }, (res) => {
      const tooBig = (): ProtocolError => new ProtocolError(`${where}: the reply from ${url} is over the ${MAX_RESPONSE_BYTES}-byte limit`)
      if (Number(res.headers['content-length'] ?? 0) > MAX_RESPONSE_BYTES) { res.destroy(); reject(tooBig()); return }
      const parts: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.byteLength
        if (size > MAX_RESPONSE_BYTES) { res.destroy(); reject(tooBig()); return }
        parts.push(c)
      })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

function callError (err: unknown, signal: AbortSignal | undefined, where: string, url: string): MvmError {
  if (err instanceof MvmError) return err
  if (signal?.aborted === true) {
    try { throwIfAborted(signal) } catch (e) { if (e instanceof MvmError) return e }
  }
  // a socket or TLS error: its message, with its code when the message lacks it
  const e = err as { code?: string, message?: string }
  const msg = e.message === undefined || e.message === '' ? (e.code ?? String(err)) : e.code !== undefined && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message
  return new UnavailableError(`${where}: cannot reach ${url}: ${msg}`, { cause: err })
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
    Reserve: async (req, o) => call('Reserve', req, o),
    MigrateRank: async (req, o) => call('MigrateRank', req, o),
    DrainNode: async (req, o) => call('DrainNode', req, o),
    ResumeNode: async (req, o) => call('ResumeNode', req, o)
  }
}
