// The tiny protocol both raw baselines (TCP and libp2p) speak, so they differ only in transport.
// A connection/stream starts with one byte: 'E' = echo every byte back; 'S' = sink: an 8-byte
// big-endian total follows, then the data; the server answers one byte once it has it all.
export const ECHO = 0x45
export const SINK = 0x53
export const SMALL = 16
export const CHUNK = 64 * 1024

export function sinkHeader (total: number): Uint8Array {
  const b = Buffer.alloc(9)
  b[0] = SINK
  b.writeBigUInt64BE(BigInt(total), 1)
  return b
}

/** Server side: feeds chunks, returns what to send back (echo bytes, the ack, or nothing). */
export function serverSession (): (chunk: Uint8Array) => Uint8Array | null {
  let mode = -1
  let header = Buffer.alloc(0)
  let total = -1
  let seen = 0
  return (chunk) => {
    let c = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    if (mode === -1) { mode = c[0]!; c = c.subarray(1) }
    if (mode === ECHO) return c.length > 0 ? c : null
    if (total < 0) {
      header = Buffer.concat([header, c])
      if (header.length < 8) return null
      total = Number(header.readBigUInt64BE(0))
      c = header.subarray(8)
    }
    seen += c.length
    return seen === total && c.length > 0 ? Buffer.from([1]) : null
  }
}
