import { FrameTooLargeError, ProtocolError } from '@mvm/core'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * Unsigned-varint length-prefixed frames. The decoder checks a frame's declared length
 * against the limit as soon as the prefix is read, before any of the body is kept, so a
 * peer cannot make us buffer more than one frame's worth of bytes.
 */

/** Varint bytes needed for any length up to 2^53: 8. More means a corrupt prefix. */
const MAX_PREFIX_BYTES = 8

export function encodeVarint (n: number): Uint8Array {
  const out: number[] = []
  let v = n
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return Uint8Array.from(out)
}


export class FrameDecoder {
  private readonly buf = new Uint8ArrayList()
  private want = -1

  constructor (private readonly maxFrameBytes: number, private readonly what: string) {}

  /** Bytes held for a frame not yet complete. */
  get buffered (): number { return this.buf.byteLength }

  /** Appends a chunk and returns the frames it completes; throws a typed error on a bad prefix. */
  push (chunk: Uint8Array | Iterable<Uint8Array>): Uint8Array[] {
    // libp2p hands a Uint8ArrayList of another major version: take its buffers, not the list
    if (chunk instanceof Uint8Array) this.buf.append(chunk)
    else for (const b of chunk) this.buf.append(b)
    const frames: Uint8Array[] = []
    for (;;) {
      if (this.want < 0 && !this.readPrefix()) break
      if (this.buf.byteLength < this.want) break
      frames.push(this.buf.subarray(0, this.want))
      this.buf.consume(this.want)
      this.want = -1
    }
    return frames
  }

  private readPrefix (): boolean {
    let n = 0
    let scale = 1
    const max = Math.min(this.buf.byteLength, MAX_PREFIX_BYTES)
    for (let i = 0; i < max; i++) {
      const b = this.buf.get(i)
      n += (b & 0x7f) * scale
      scale *= 0x80
      if (n > this.maxFrameBytes) {
        throw new FrameTooLargeError(`${this.what}: frame length prefix says at least ${n} bytes, over the ${this.maxFrameBytes}-byte limit`, { data: { size: n, limit: this.maxFrameBytes } })
      }
      if ((b & 0x80) === 0) {
        this.buf.consume(i + 1)
        this.want = n
        return true
      }
    }
    if (this.buf.byteLength >= MAX_PREFIX_BYTES) throw new ProtocolError(`${this.what}: corrupt frame length prefix`)
    return false
  }
}
