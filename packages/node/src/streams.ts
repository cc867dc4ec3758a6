import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { BadRequestError, UnavailableError } from '@mvm/core'
import type { Host } from './host.js'

/**
 * Raw libp2p streams for job data (the queue protocol), kept narrow so job machinery never
 * touches the host itself: register a protocol, dial a member by id and known addresses.
 */
export interface StreamAccess {
  /** Every connection of the host is Noise-encrypted (host.ts): bytes a send() took are copied. */
  readonly encryptsOnSend: boolean
  handle: (protocol: string, handler: (stream: Stream, remotePeer: string) => void) => Promise<void>
  unhandle: (protocol: string) => Promise<void>
  dial: (peerId: string, addrs: string[], protocol: string, options?: { signal?: AbortSignal }) => Promise<Stream>
}

const MAX_STREAMS_PER_CONNECTION = 1024

export function streamAccess (host: () => Host): StreamAccess {
  return {
    encryptsOnSend: true,
    async handle (protocol, handler) {
      await host().handle(protocol, (stream, connection) => { handler(stream, connection.remotePeer.toString()) }, {
        maxInboundStreams: MAX_STREAMS_PER_CONNECTION, maxOutboundStreams: MAX_STREAMS_PER_CONNECTION
      })
    },
    async unhandle (protocol) { await host().unhandle(protocol) },
    async dial (peerId, addrs, protocol, options = {}) {
      const h = host()
      let pid
      try { pid = peerIdFromString(peerId) } catch (err) { throw new BadRequestError(`"${peerId}" is not a peer id`, { cause: err }) }
      const opts = { ...(options.signal !== undefined ? { signal: options.signal } : {}), maxOutboundStreams: MAX_STREAMS_PER_CONNECTION }
      if (h.getConnections(pid).length > 0 || addrs.length === 0) return await h.dialProtocol(pid, protocol, opts)
      const mas = addrs.map((a) => multiaddr(a.includes('/p2p/') ? a : `${a}/p2p/${peerId}`))
      try {
        return await h.dialProtocol(mas, protocol, opts)
      } catch (err) {
        throw new UnavailableError(`cannot reach ${peerId} at ${addrs.join(', ')}: ${(err as Error).message}`, { cause: err })
      }
    }
  }
}
