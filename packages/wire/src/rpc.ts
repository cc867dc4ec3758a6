import { combineSignals, errorFromJSON, InvalidStateError, MvmError, ProtocolError, silentLogger, throwIfAborted, toMvmError, UnavailableError, BadRequestError, type Logger } from '@mvm/core'
import type { ControlChannel } from './channels.js'
import type { ControlBody, ControlBodyInit, ControlBodyOf, ControlEnvelope, ControlType } from './types.js'

export interface RequestContext {
  /** The request's envelope id (0 for a notification). */
  id: number
  /** True when the sender expects no reply (sent with `notify`). */
  notification: boolean
  /** Aborted when the channel closes: stop long work. */
  signal: AbortSignal
}

/** Returns the reply body (undefined means `Ack`), or throws an MvmError sent back as `Error`. */
export type RequestHandler = (body: ControlBody, ctx: RequestContext) => ControlBodyInit | undefined | Promise<ControlBodyInit | undefined>

export interface RequestOptions {
  signal?: AbortSignal
  /** Default: the peer's `defaultTimeoutMs` (30 s). */
  timeoutMs?: number
}

export interface RpcPeerOptions {
  logger?: Logger
  handler?: RequestHandler
  defaultTimeoutMs?: number
  /** Handlers running at once before the peer stops reading (backpressure). Default 64. */
  maxConcurrentHandlers?: number
}

/** Request/response and notifications over one long-lived control channel. */
export interface RpcPeer {
  /** Sends `body` and resolves with the reply body; a reply `Error` rejects as the typed MvmError. */
  request: (body: ControlBodyInit, options?: RequestOptions) => Promise<ControlBody>
  /** Sends `body` expecting no reply. */
  notify: (body: ControlBodyInit, options?: { signal?: AbortSignal }) => Promise<void>
  /** Sets (replaces) the handler for incoming requests and notifications. */
  onRequest: (handler: RequestHandler) => void
  /** Requests awaiting a reply. */
  readonly pending: number
  readonly channel: ControlChannel
  readonly closed: Promise<MvmError | undefined>
  close: (options?: { signal?: AbortSignal }) => Promise<void>
}

/** Narrows a reply to the expected type, or throws ProtocolError naming both. */
export function expectBody<K extends ControlType> (body: ControlBody, type: K): ControlBodyOf<K> {
  if (body.type !== type) throw new ProtocolError(`expected a ${type} reply, got ${body.type}`)
  return body as ControlBodyOf<K>
}

export function errorBody (err: unknown): ControlBodyInit {
  const e = toMvmError(err)
  let dataJson = ''
  if (e.data !== undefined) { try { dataJson = JSON.stringify(e.data) ?? '' } catch { dataJson = '' } }
  return { type: 'error', code: e.code, message: e.message.slice(0, 4096), dataJson, retryable: e.retryable }
}

interface Pending { resolve: (b: ControlBody) => void, reject: (e: MvmError) => void }

class Peer implements RpcPeer {
  private nextId = 1
  private readonly waiting = new Map<number, Pending>()
  private handler: RequestHandler | undefined
  private readonly log: Logger
  private readonly lifetime = new AbortController()
  private running = 0
  private readonly serving = new Set<Promise<void>>()
  private slotFree: (() => void) | undefined
  readonly closed: Promise<MvmError | undefined>

  constructor (readonly channel: ControlChannel, private readonly opts: RpcPeerOptions) {
    this.log = opts.logger ?? silentLogger()
    this.handler = opts.handler
    this.closed = channel.closed
    void channel.closed.then((err) => { this.shutdown(err) })
    queueMicrotask(() => { void this.readLoop() })
  }

  get pending (): number { return this.waiting.size }

  onRequest (handler: RequestHandler): void { this.handler = handler }

  async request (body: ControlBodyInit, options: RequestOptions = {}): Promise<ControlBody> {
    throwIfAborted(options.signal)
    if (this.channel.isClosed) throw new UnavailableError('control channel is closed')
    const id = this.nextId++
    const signal = combineSignals([options.signal, this.lifetime.signal], options.timeoutMs ?? this.opts.defaultTimeoutMs ?? 30_000)
    let resolve!: (b: ControlBody) => void
    let reject!: (e: MvmError) => void
    const promise = new Promise<ControlBody>((res, rej) => { resolve = res; reject = rej })
    // it may be rejected (abort, channel closed) while the send is still pending
    promise.catch(() => {})
    this.waiting.set(id, { resolve, reject })
    const onAbort = (): void => {
      try { throwIfAborted(signal) } catch (e) { reject(toMvmError(e)) }
    }
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await this.channel.send({ id, body }, { signal })
      return await promise
    } finally {
      this.waiting.delete(id)
      signal.removeEventListener('abort', onAbort)
    }
  }

  async notify (body: ControlBodyInit, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.channel.send({ body }, options)
  }

  async close (options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.channel.close(options)
  }

  private shutdown (err: MvmError | undefined): void {
    this.lifetime.abort(err ?? new UnavailableError('control channel closed'))
    const why = err ?? new UnavailableError('control channel closed before the reply')
    for (const p of this.waiting.values()) p.reject(why)
    this.waiting.clear()
  }

  private async readLoop (): Promise<void> {
    try {
      for await (const env of this.channel) {
        if (env.replyTo !== 0) { this.onReply(env); continue }
        while (this.running >= (this.opts.maxConcurrentHandlers ?? 64)) {
          await new Promise<void>((resolve) => { this.slotFree = resolve })
        }
        this.running++
        const job: Promise<void> = this.serve(env).finally(() => {
          this.running--
          this.serving.delete(job)
          const f = this.slotFree
          this.slotFree = undefined
          f?.()
        })
        this.serving.add(job)
      }
      // the remote finished sending: our pending requests can no longer be answered,
      // but the requests it sent before closing still get their replies
      const why = new UnavailableError('the remote closed the control channel')
      for (const p of this.waiting.values()) p.reject(why)
      this.waiting.clear()
      await Promise.allSettled([...this.serving])
      await this.channel.close()
    } catch (e) {
      this.log.error({ err: e }, 'rpc read loop failed')
      this.channel.abort(toMvmError(e))
    }
  }

  private onReply (env: ControlEnvelope): void {
    const p = this.waiting.get(env.replyTo)
    if (p === undefined) {
      this.log.debug({ replyTo: env.replyTo, type: env.body.type }, 'reply to no pending request (late or duplicate): dropped')
      return
    }
    this.waiting.delete(env.replyTo)
    if (env.body.type === 'error') {
      const b = env.body
      let data: unknown
      if (b.dataJson !== '') { try { data = JSON.parse(b.dataJson) } catch { data = undefined } }
      p.reject(errorFromJSON({ code: b.code, message: b.message, data, retryable: b.retryable }))
    } else {
      p.resolve(env.body)
    }
  }

  private async serve (env: ControlEnvelope): Promise<void> {
    const notification = env.id === 0
    const ctx: RequestContext = { id: env.id, notification, signal: this.lifetime.signal }
    let reply: ControlBodyInit
    try {
      const h = this.handler
      if (h === undefined) throw new BadRequestError(`this peer serves no ${env.body.type} requests`)
      reply = (await h(env.body, ctx)) ?? { type: 'ack' }
    } catch (e) {
      if (notification) { this.log.warn({ err: e, type: env.body.type }, 'notification handler failed'); return }
      if (!(e instanceof MvmError)) this.log.error({ err: e, type: env.body.type }, 'request handler threw a non-MvmError')
      reply = errorBody(e)
    }
    if (notification || this.channel.isClosed) return
    try {
      await this.channel.send({ replyTo: env.id, body: reply })
    } catch (e) {
      // a reply the codec refuses (bad fields, too large) becomes an Error reply instead
      if (e instanceof MvmError && !this.channel.isClosed) {
        this.log.warn({ err: e.message, type: reply.type }, 'reply could not be sent')
        try { await this.channel.send({ replyTo: env.id, body: errorBody(e) }) } catch {}
      }
    }
  }
}

/** Wraps a control channel; starts reading at once. */
export function createRpcPeer (channel: ControlChannel, options: RpcPeerOptions = {}): RpcPeer {
  if (channel.isClosed) throw new InvalidStateError('cannot build an RpcPeer on a closed channel')
  return new Peer(channel, options)
}
