import { ProtocolError, type MvmError } from '@mvm/core'
import type { Stream } from '@libp2p/interface'
import { StreamChannel, type ChannelOptions, type FramedChannel } from './channel.js'
import { decodeControl, decodeQueue, encodeControl, encodeQueue } from './codec.js'
import { Limits } from './constants.js'
import type { ControlEnvelope, ControlEnvelopeInit, QueueMessage, QueueMessageInit } from './types.js'

export type ControlChannel = FramedChannel<ControlEnvelope, ControlEnvelopeInit>
export type QueueChannel = FramedChannel<QueueMessage, QueueMessageInit>

/** A channel of control Envelopes over a `/mvm/control/1.0.0` stream. */
export function controlChannel (stream: Stream, options: ChannelOptions = {}): ControlChannel {
  return new StreamChannel(stream, {
    what: 'control',
    // any frame may be an Instantiate; the codec applies the 1 MiB limit to every other body
    maxFrameBytes: Limits.instantiateFrameBytes,
    encode: encodeControl,
    decode: decodeControl
  }, options)
}

/**
 * A channel of queue messages over a `/mvm/queue/1.0.0` stream. Each side sends one
 * `hello` first; incoming, a missing or repeated hello, or a frame for another job, closes
 * the channel with a ProtocolError.
 */
export function queueChannel (stream: Stream, options: ChannelOptions = {}): QueueChannel {
  let jobId: string | undefined
  return new StreamChannel(stream, {
    what: 'queue',
    maxFrameBytes: Limits.queueFrameBytes,
    encode: encodeQueue,
    decode: decodeQueue,
    accept (m, index): void {
      let bad: MvmError | undefined
      if (index === 0 && m.type !== 'hello') bad = new ProtocolError('queue stream: the first message must be a hello')
      else if (index > 0 && m.type === 'hello') bad = new ProtocolError('queue stream: hello sent twice')
      else if (m.type === 'hello') jobId = m.jobId
      else if (m.jobId !== jobId) bad = new ProtocolError(`queue stream: frame for job ${m.jobId} on a stream opened for job ${String(jobId)}`)
      if (bad !== undefined) throw bad
    }
  }, options)
}
