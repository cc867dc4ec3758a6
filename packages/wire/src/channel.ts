import { AbortError, InvalidStateError, MvmError, ProtocolError, silentLogger, throwIfAborted, toMvmError, UnavailableError, type Logger } from '@mvm/core'
import type { Stream } from '@libp2p/interface'
import { encodeVarint, FrameDecoder } from './framing.js'

/** How a channel turns messages into frame bodies and back (a bounded codec). */
export interface ChannelCodec<TIn, TOut> {
  /** Names the protocol in errors and logs, e.g. `control`. */
  what: string
  maxFrameBytes: number
  encode: (m: TOut) => Uint8Array
  decode: (body: Uint8Array) => TIn
  /** Per-channel ordering rules (e.g. hello first); throws a typed error. */
  accept?: (m: TIn, index: number) => void
}

export interface ChannelOptions {
  logger?: Logger
  /** Unread incoming messages before the stream is paused (the remote then stalls). Default 256. */
  highWaterMessages?: number
  /** Unread incoming bytes before the stream is paused. Default 1 MiB. */
  highWaterBytes?: number
  /** After `close()`, how long the remote may keep its side open before the stream is reset. Default 30 s; 0 = for ever. */
  closeTimeoutMs?: number
  /** Called once when the channel is finished: `undefined` for a clean close, else why. */
  onClose?: (err: MvmError | undefined) => void
  /** Aborting it aborts the channel. */
  signal?: AbortSignal
  /** Told of every whole frame sent and received (its body plus length prefix): a node's traffic counters. */
  traffic?: TrafficCounter
}

/** Counts the frames a channel moves; one counter may serve many channels. */
export interface TrafficCounter {
  sent: (bytes: number) => void
  received: (bytes: number) => void
}

/** A bidirectional stream of typed messages in bounded, length-prefixed frames. */
export interface FramedChannel<TIn, TOut = TIn> extends AsyncIterable<TIn> {
  /** Resolves when the frame is handed to the stream; waits while the stream is full. */
  send: (msg: TOut, options?: { signal?: AbortSignal }) => Promise<void>
  /**
   * Sends several messages in order, small ones coalesced into one stream write (one muxer
   * frame and one Noise message for many frames); resolves when all are handed to the stream.
   */
  sendMany: (msgs: TOut[], options?: { signal?: AbortSignal }) => Promise<void>
  /**
   * Flushes queued sends and half-closes: no more sends; incoming messages still arrive until
   * the remote closes too (then `closed` resolves). Never rejects.
   */
  close: (options?: { signal?: AbortSignal }) => Promise<void>
  /** Resets the stream at once; `closed` resolves with the error. */
  abort: (err: Error) => void
  /** Resolves (never rejects) when the channel is finished: undefined if clean, else the typed error. */
  readonly closed: Promise<MvmError | undefined>
  /** True once `closed` has resolved. */
  readonly isClosed: boolean
  readonly stream: Stream
}

/** Frames up to this size are copied into one buffer with their length prefix. */
const SMALL_FRAME_BYTES = 16 * 1024
/** sendMany joins small frames into writes of at most this many bytes. */
const COALESCE_BYTES = 64 * 1024
/** Room for one varint length prefix of a frame body. */
const MAX_PREFIX = 8

/** Enough read buffer to hold everything the remote may still send after a pause (yamux window is at most 16 MiB). */
const PAUSED_READ_BUFFER = 17 * 1024 * 1024

export class StreamChannel<TIn, TOut> implements FramedChannel<TIn, TOut> {
  readonly closed: Promise<MvmError | undefined>
  isClosed = false
  private readonly log: Logger
  private readonly decoder: FrameDecoder
  private readonly inbox: Array<{ m: TIn, size: number }> = []
  private inboxBytes = 0
  private received = 0
  private reader: (() => void) | undefined
  private inputEnded = false
  private streamClosed = false
  private paused = false
  private writeTail: Promise<void> = Promise.resolve()
  private writeClosed = false
  private error: MvmError | undefined
  private resolveClosed!: (e: MvmError | undefined) => void
  private readonly hwMessages: number
  private readonly hwBytes: number
  private readonly cleanup: Array<() => void> = []

  constructor (readonly stream: Stream, private readonly codec: ChannelCodec<TIn, TOut>, private readonly opts: ChannelOptions = {}) {
    this.log = opts.logger ?? silentLogger()
    this.decoder = new FrameDecoder(codec.maxFrameBytes, codec.what)
    this.hwMessages = opts.highWaterMessages ?? 256
    this.hwBytes = opts.highWaterBytes ?? 1024 * 1024
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve })
    if (stream.maxReadBufferLength < PAUSED_READ_BUFFER) stream.maxReadBufferLength = PAUSED_READ_BUFFER

    // Listen before anything else can happen: data or the remote's close that arrived
    // before this point is still in the stream's buffer and is delivered from here.
    this.on('message', (evt) => { this.onData((evt as unknown as { data: Uint8Array | Iterable<Uint8Array> }).data) })
    this.on('end', () => { this.onEnd() })
    this.on('close', (evt) => { this.onStreamClose(evt as unknown as { error?: Error, local?: boolean }) })
    if (opts.signal !== undefined) {
      const s = opts.signal
      const onAbort = (): void => { this.abort(new AbortError(`${codec.what} channel aborted`, { cause: s.reason })) }
      if (s.aborted) queueMicrotask(onAbort)
      else { s.addEventListener('abort', onAbort, { once: true }); this.cleanup.push(() => { s.removeEventListener('abort', onAbort) }) }
    }
    if (stream.readableEnded) this.inputEnded = true
    if (stream.status !== 'open' && stream.status !== 'closing') {
      this.onStreamClose({ error: stream.status === 'closed' ? undefined : new Error(`stream was ${stream.status}`) })
    }
  }

  private on (name: 'message' | 'end' | 'close', fn: (evt: Event) => void): void {
    this.stream.addEventListener(name, fn)
    this.cleanup.push(() => { this.stream.removeEventListener(name, fn) })
  }

  private onData (chunk: Uint8Array | Iterable<Uint8Array>): void {
    if (this.isClosed) return
    try {
      for (const body of this.decoder.push(chunk)) {
        const m = this.codec.decode(body)
        this.codec.accept?.(m, this.received)
        this.received++
        this.opts.traffic?.received(body.byteLength + encodeVarint(body.byteLength).byteLength)
        this.inbox.push({ m, size: body.byteLength })
        this.inboxBytes += body.byteLength
      }
    } catch (e) {
      this.fail(toMvmError(e))
      return
    }
    if (!this.paused && (this.inbox.length >= this.hwMessages || this.inboxBytes >= this.hwBytes)) {
      try { this.stream.pause(); this.paused = true } catch {}
    }
    this.wakeReader()
  }

  private onEnd (): void {
    if (this.decoder.buffered > 0) {
      this.fail(new ProtocolError(`${this.codec.what} stream ended inside a frame (${this.decoder.buffered} bytes of it received)`))
      return
    }
    this.inputEnded = true
    this.wakeReader()
    this.maybeFinish()
  }

  private onStreamClose (evt: { error?: Error, local?: boolean }): void {
    this.streamClosed = true
    if (evt.error !== undefined && !this.isClosed) {
      const err = evt.error instanceof MvmError
        ? evt.error
        : new UnavailableError(`${this.codec.what} stream ${evt.local === true ? 'aborted' : 'reset by the remote peer'}: ${evt.error.message}`, { cause: evt.error })
      this.finish(err)
      return
    }
    if (this.stream.readBufferLength === 0 && !this.paused) this.inputEnded = true
    this.wakeReader()
    this.maybeFinish()
  }

  private maybeFinish (): void {
    if (this.inputEnded && this.streamClosed && this.decoder.buffered > 0) {
      this.fail(new ProtocolError(`${this.codec.what} stream ended inside a frame (${this.decoder.buffered} bytes of it received)`))
      return
    }
    if (this.inputEnded && this.streamClosed) this.finish(undefined)
  }

  private wakeReader (): void {
    const r = this.reader
    this.reader = undefined
    r?.()
  }

  private fail (err: MvmError): void {
    if (this.isClosed) return
    this.log.warn({ code: err.code, err: err.message }, `${this.codec.what} channel closed: ${err.message}`)
    this.finish(err)
    try { this.stream.abort(err) } catch {}
  }

  private finish (err: MvmError | undefined): void {
    if (this.isClosed) return
    this.isClosed = true
    this.error = err
    this.inputEnded = true
    for (const c of this.cleanup.splice(0)) c()
    this.wakeReader()
    this.resolveClosed(err)
    try { this.opts.onClose?.(err) } catch (e) { this.log.error({ err: e }, 'onClose callback threw') }
  }

  async send (msg: TOut, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.assertWritable()
    const body = this.codec.encode(msg)
    const turn = this.writeTail.then(async () => { await this.write(body, options.signal) })
    this.writeTail = turn.catch(() => {})
    await turn
  }

  async sendMany (msgs: TOut[], options: { signal?: AbortSignal } = {}): Promise<void> {
    this.assertWritable()
    const bodies = msgs.map((m) => this.codec.encode(m))
    const turn = this.writeTail.then(async () => { await this.writeMany(bodies, options.signal) })
    this.writeTail = turn.catch(() => {})
    await turn
  }

  private async writeMany (bodies: Uint8Array[], signal: AbortSignal | undefined): Promise<void> {
    let i = 0
    while (i < bodies.length) {
      // a run of small bodies goes as one write, up to COALESCE_BYTES; a large one on its own
      let j = i
      let bytes = 0
      while (j < bodies.length && bodies[j]!.byteLength <= SMALL_FRAME_BYTES && bytes + bodies[j]!.byteLength <= COALESCE_BYTES) { bytes += bodies[j]!.byteLength + MAX_PREFIX; j++ }
      if (j <= i + 1) { await this.write(bodies[i]!, signal); i++; continue }
      const run = new Uint8Array(bytes)
      let at = 0
      for (let k = i; k < j; k++) {
        const b = bodies[k]!
        const prefix = encodeVarint(b.byteLength)
        run.set(prefix, at); at += prefix.byteLength
        run.set(b, at); at += b.byteLength
        this.opts.traffic?.sent(prefix.byteLength + b.byteLength)
      }
      await this.writeRaw(run.subarray(0, at), signal)
      i = j
    }
  }

  private assertWritable (): void {
    if (this.isClosed) throw this.error ?? new InvalidStateError(`${this.codec.what} channel is closed`)
    if (this.writeClosed) throw new InvalidStateError(`${this.codec.what} channel is closing: no more sends`)
  }

  /** Writes bytes that are already framed (length prefixes included). */
  private async writeRaw (framed: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    await this.writable(signal)
    try {
      this.stream.send(framed)
    } catch (e) {
      throw new UnavailableError(`${this.codec.what} channel: send failed: ${(e as Error).message}`, { cause: e })
    }
  }

  private async writable (signal: AbortSignal | undefined): Promise<void> {
    // Wait on 'drain' ourselves (stream.onDrain() stops waiting after the first drain).
    while (this.stream.writableNeedsDrain) {
      throwIfAborted(signal)
      if (this.isClosed) break
      await this.waitDrain(signal)
    }
    throwIfAborted(signal)
    if (this.isClosed) throw this.error ?? new InvalidStateError(`${this.codec.what} channel is closed`)
  }

  private async write (body: Uint8Array, signal: AbortSignal | undefined): Promise<void> {
    await this.writable(signal)
    try {
      const prefix = encodeVarint(body.byteLength)
      if (body.byteLength <= SMALL_FRAME_BYTES) {
        // one send: each send becomes its own muxer frame and Noise message, so a small
        // frame sent as prefix + body would cost twice the per-message overhead
        const one = new Uint8Array(prefix.byteLength + body.byteLength)
        one.set(prefix, 0)
        one.set(body, prefix.byteLength)
        this.stream.send(one)
      } else {
        // large bodies: two sends, no copy of the body
        this.stream.send(prefix)
        this.stream.send(body)
      }
      this.opts.traffic?.sent(prefix.byteLength + body.byteLength)
    } catch (e) {
      throw new UnavailableError(`${this.codec.what} channel: send failed: ${(e as Error).message}`, { cause: e })
    }
  }

  private async waitDrain (signal: AbortSignal | undefined): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.removeEventListener('drain', done)
        this.stream.removeEventListener('close', done)
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }
      const onAbort = (): void => { done() }
      this.stream.addEventListener('drain', done)
      this.stream.addEventListener('close', done)
      signal?.addEventListener('abort', onAbort)
    })
  }

  async close (options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.isClosed || this.writeClosed) return
    this.writeClosed = true
    try {
      await this.writeTail
      if (!this.isClosed) await this.stream.close(options)
    } catch (e) {
      this.fail(toMvmError(e))
      return
    }
    // a remote that never finishes its side must not hold the stream open for ever
    const ms = this.opts.closeTimeoutMs ?? 30_000
    if (this.isClosed || ms <= 0) return
    const timer = setTimeout(() => {
      this.abort(new UnavailableError(`${this.codec.what} channel: the remote did not finish within ${ms} ms of our close`))
    }, ms)
    timer.unref()
    this.cleanup.push(() => { clearTimeout(timer) })
  }

  abort (err: Error): void {
    if (this.isClosed) return
    const e = toMvmError(err)
    this.log.debug({ code: e.code }, `${this.codec.what} channel aborted locally: ${e.message}`)
    this.finish(e)
    try { this.stream.abort(e) } catch {}
  }

  [Symbol.asyncIterator] (): AsyncIterator<TIn> {
    return {
      next: async (): Promise<IteratorResult<TIn>> => {
        for (;;) {
          const item = this.inbox.shift()
          if (item !== undefined) {
            this.inboxBytes -= item.size
            this.maybeResume()
            return { done: false, value: item.m }
          }
          if (this.inputEnded || this.isClosed) return { done: true, value: undefined }
          if (this.reader !== undefined) throw new InvalidStateError(`${this.codec.what} channel is already being read`)
          await new Promise<void>((resolve) => { this.reader = resolve })
        }
      },
      return: async (): Promise<IteratorResult<TIn>> => ({ done: true, value: undefined })
    }
  }

  private maybeResume (): void {
    if (!this.paused || this.inbox.length > this.hwMessages / 2 || this.inboxBytes > this.hwBytes / 2) return
    this.paused = false
    try { this.stream.resume() } catch {}
    // the remote may have closed while we were paused: nothing more will come after the buffer
    if (this.streamClosed && this.stream.readBufferLength === 0) { this.inputEnded = true; this.maybeFinish() }
  }
}
