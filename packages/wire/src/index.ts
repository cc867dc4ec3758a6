/**
 * @packageDocumentation
 * The MVM wire protocol: the `.proto` contracts (proto/control.proto, proto/queue.proto),
 * bounded protobuf codecs, length-prefixed framed channels with backpressure over libp2p v3
 * streams, and request/response correlation on one long-lived control stream.
 *
 * @example
 * ```ts
 * import { CONTROL_PROTOCOL, controlChannel, createRpcPeer, expectBody } from '@mvm/wire'
 * // listener
 * node.handle(CONTROL_PROTOCOL, (stream) => {
 *   const rpc = createRpcPeer(controlChannel(stream, { logger }))
 *   rpc.onRequest(async (body) => {
 *     if (body.type === 'join') return { type: 'joinAck', accepted: true, heartbeatIntervalMs: 2000 }
 *     if (body.type === 'heartbeat') return undefined // Ack (or nothing for a notify)
 *     throw new BadRequestError(`unexpected ${body.type}`)
 *   })
 * })
 * // dialer
 * const rpc = createRpcPeer(controlChannel(await node.dialProtocol(addr, CONTROL_PROTOCOL)))
 * const ack = expectBody(await rpc.request({ type: 'join', group: 'g1', roles: ['peer'] }, { timeoutMs: 5000 }), 'joinAck')
 * await rpc.notify({ type: 'heartbeat', report: { freeSlots: 4, totalSlots: 4, timestampMs: Date.now() } })
 * ```
 */
export { CONTROL_PROTOCOL, QUEUE_PROTOCOL, CONTROL_VERSION, QUEUE_VERSION, Limits } from './constants.js'
export type * from './types.js'
export { RankState, FrameKind } from './types.js'
export { encodeControl, decodeControl, encodeQueue, decodeQueue } from './codec.js'
export { encodeVarint } from './framing.js'
export type { ChannelOptions, FramedChannel, TrafficCounter } from './channel.js'
export { controlChannel, queueChannel, type ControlChannel, type QueueChannel } from './channels.js'
export { createRpcPeer, expectBody, type RpcPeer, type RpcPeerOptions, type RequestHandler, type RequestContext, type RequestOptions } from './rpc.js'
export { encodeInstance, decodeInstance, DEFAULT_RESOURCES, type InstantiateSpec, type InstanceTemplate, type InstanceInput, type JobEnvironment } from './instance.js'
