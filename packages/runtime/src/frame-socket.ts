import type { Socket } from 'node:net'

/**
 * A socket carrying binary frames `[u32 payload length][u8 kind][f64 a][u32 b][payload]`: between
 * two local ranks (a = edge index or collective tag) and between a rank and its node's runtime
 * (a = port index or tag, b = credits or the collective peer rank). Values stay bytes end to
 * end; a socket is the only path for what it carries, so its order is per-port order and its
 * end, after the last frame, is the eof.
 */
export const Kind = { data: 1, credit: 2, coll: 3, eof: 4 } as const
const HEADER = 17
/** Payloads up to this size are copied behind their header (one write); larger ones go as two, uncopied. */
const COPY_MAX = 16 * 1024
/** A frame claiming more than this is a corrupt stream (values are bounded by rank memory anyway). */
const FRAME_MAX = 1024 * 1024 * 1024
/** How long a finishing rank waits for a socket the runtime has not handed over yet. */
const ATTACH_WAIT_MS = 10_000

export interface FrameSink {
  /** `payload` is a view into a read buffer (Node never reuses those): it may be kept. */
  frame: (kind: number, a: number, b: number, payload: Uint8Array) => void
  /** The other end closed (finished or died): everything it sent has been delivered. */
  closed: () => void
}

export class FrameSocket {
  private socket: Socket | undefined
  /** Frames written before the socket arrived. */
  private backlog: Uint8Array[] = []
  private readonly chunks: Buffer[] = []
  private have = 0
  private isClosed = false
  private attached!: () => void
  private readonly attachedP = new Promise<void>((resolve) => { this.attached = resolve })

  /** Resolves once the other end has closed and every frame it sent went to the sink. */
  readonly done: Promise<void>
  private resolveDone!: () => void

  constructor (private readonly sink: FrameSink) {
    this.done = new Promise<void>((resolve) => { this.resolveDone = resolve })
  }

  attach (socket: Socket): void {
    if (this.socket !== undefined || this.isClosed) { socket.destroy(); return }
    this.socket = socket
    socket.setNoDelay?.(true)
    socket.on('data', (chunk: Buffer) => { this.onData(chunk) })
    socket.on('end', () => { this.onClosed() })
    socket.on('close', () => { this.onClosed() })
    socket.on('error', () => { this.onClosed() })
    const b = this.backlog
    this.backlog = []
    if (b.length > 0) {
      socket.cork()
      for (const x of b) socket.write(x)
      socket.uncork()
    }
    socket.resume()
    this.attached()
  }

  get closed (): boolean { return this.isClosed }

  write (kind: number, a: number, b: number, payload?: Uint8Array): void {
    if (this.isClosed) return
    const len = payload?.byteLength ?? 0
    const small = len <= COPY_MAX
    const head = Buffer.allocUnsafe(small ? HEADER + len : HEADER)
    head.writeUInt32LE(len, 0)
    head.writeUInt8(kind, 4)
    head.writeDoubleLE(a, 5)
    head.writeUInt32LE(b, 13)
    if (payload !== undefined && small) head.set(payload, HEADER)
    const s = this.socket
    if (s === undefined) {
      this.backlog.push(head)
      if (payload !== undefined && !small) this.backlog.push(payload)
      return
    }
    if (payload === undefined || small) { s.write(head); return }
    s.cork()
    s.write(head)
    s.write(payload)
    s.uncork()
  }

  private onData (chunk: Buffer): void {
    this.chunks.push(chunk)
    this.have += chunk.byteLength
    for (;;) {
      if (this.have < HEADER) return
      let first = this.chunks[0]!
      if (first.byteLength < HEADER) first = this.merge()
      const len = first.readUInt32LE(0)
      if (len > FRAME_MAX) { this.socket?.destroy(); this.onClosed(); return }
      const total = HEADER + len
      if (this.have < total) return
      if (first.byteLength < total) first = this.merge()
      const kind = first.readUInt8(4)
      const a = first.readDoubleLE(5)
      const b = first.readUInt32LE(13)
      const payload = first.subarray(HEADER, total)
      if (first.byteLength === total) this.chunks.shift()
      else this.chunks[0] = first.subarray(total)
      this.have -= total
      this.sink.frame(kind, a, b, payload)
    }
  }

  /** Joins the buffered chunks into one (a frame straddles reads). */
  private merge (): Buffer {
    const all = Buffer.concat(this.chunks, this.have)
    this.chunks.length = 0
    this.chunks.push(all)
    return all
  }

  private onClosed (): void {
    if (this.isClosed) return
    this.isClosed = true
    this.backlog = []
    try { this.sink.closed() } finally { this.resolveDone() }
  }

  /** Closes at once (nothing more is read or written). */
  destroy (): void {
    this.socket?.destroy()
    this.onClosed()
  }

  /** Ends our side once everything written is handed to the OS (the peer then reads it all, then eof). */
  async end (): Promise<void> {
    if (this.socket === undefined && !this.isClosed) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.attachedP, new Promise<void>((resolve) => { timer = setTimeout(resolve, ATTACH_WAIT_MS) })])
      clearTimeout(timer)
    }
    const s = this.socket
    if (s === undefined || s.destroyed || s.writableFinished) return
    await new Promise<void>((resolve) => {
      s.once('close', () => { resolve() })
      s.end(() => { resolve() })
    })
  }
}
