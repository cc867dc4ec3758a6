import type { Stream } from '@libp2p/interface'
import { AbortError, errorFromJSON, MvmError, ProtocolError, TimeoutError, UnavailableError } from '@mvm/core'
import type { BufferPool } from './buffer-pool.js'
import { READ_BUFFER_BYTES } from './constants.js'
import { FrameReader, type ReceivedResponse } from './frame-reader.js'
import { encodeRequest, lengthPrefixed, type DataRequest } from './protocol.js'
import { DATA_PROTOCOL, type DataTransport, type Holder } from './types.js'

export interface CallOptions {
  /** Aborts the call; carries the overall per-request deadline. */
  signal: AbortSignal
  maxFrameBytes: number
  /** Response frames accepted at most (a listener that never ends is cut off). */
  maxFrames: number
  /** Where received chunks are gathered (one chunk-sized buffer each). */
  pool: BufferPool
}

/** Why a call ended: the caller's abort, the deadline, or the holder. */
export function callError (err: unknown, signal: AbortSignal, holder: Holder): MvmError {
  if (signal.aborted) {
    const r = signal.reason as unknown
    if (r instanceof Error && r.name === 'TimeoutError') return new TimeoutError(`data request to ${holder.peerId} timed out`, { cause: err })
    return r instanceof MvmError ? r : new AbortError('data request aborted', { cause: r })
  }
  if (err instanceof MvmError) return err
  return new UnavailableError(`data request to ${holder.peerId} failed: ${(err as Error).message}`, { cause: err })
}

/**
 * One request on one new stream: sends it, half-closes, and hands each response frame to
 * `onFrame` until it returns true. A chunk's bytes are the pool's: `onFrame` takes them and
 * calls the frame's `release` when done with them (when it throws, they are given back here).
 * The stream is reset on any failure.
 */
export async function call (transport: DataTransport, holder: Holder, req: DataRequest, opts: CallOptions, onFrame: (r: ReceivedResponse) => Promise<boolean> | boolean): Promise<void> {
  const { signal } = opts
  let stream: Stream | undefined
  let reader: FrameReader | undefined
  const onAbort = (): void => { stream?.abort(new AbortError('data request aborted')) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    if (signal.aborted) throw signal.reason
    stream = await transport.dial(holder.peerId, holder.addrs, DATA_PROTOCOL, { signal })
    // listen at once: a reply and the remote's close may arrive before the first read
    reader = new FrameReader(stream, opts.pool, opts.maxFrameBytes, READ_BUFFER_BYTES)
    if (!stream.send(lengthPrefixed(encodeRequest(req)))) await stream.onDrain({ signal })
    await stream.close({ signal })
    for (let n = 0; ; n++) {
      if (n >= opts.maxFrames) throw new ProtocolError(`data protocol: ${holder.peerId} sent more than ${opts.maxFrames} frames`)
      const r = await reader.read(signal)
      if (r.type === 'error') throw errorFromJSON({ code: r.code, message: `${holder.peerId}: ${r.message}` })
      let done: boolean
      try { done = await onFrame(r) } catch (err) {
        if (r.type === 'chunk') r.release()
        throw err
      }
      if (done) break
    }
  } catch (err) {
    stream?.abort(err instanceof Error ? err : new Error(String(err)))
    throw callError(err, signal, holder)
  } finally {
    reader?.close()
    signal.removeEventListener('abort', onAbort)
  }
}
