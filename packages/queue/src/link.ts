/**
 * One item between two nodes' runtimes for one job, as the queue layer sees it (lower-case
 * kinds); the proxy maps it to the wire's `QueueFrame`. `port` is always a port of `toRank`.
 */
export interface LinkFrame {
  jobId: string
  fromRank: number
  toRank: number
  port: string
  /** Per (fromRank, port) sequence for data; the collective tag on the collective port. */
  seq: number
  kind: 'data' | 'credit' | 'eof' | 'error'
  payload: Uint8Array
  credits: number
}

/**
 * The node's libp2p `/mvm/queue/1.0.0` proxy, or an in-memory one in tests. `send` resolves when
 * the frame is accepted and waits under backpressure; frames from one node arrive in the order
 * `send` was called (a caller need not wait for one send before the next).
 * A link must hold frames that arrive before `onFrame` is called.
 */
export interface RemoteLink {
  send: (nodeId: string, frame: LinkFrame, options?: { signal?: AbortSignal }) => Promise<void>
  onFrame: (handler: (fromNode: string, frame: LinkFrame) => void) => void | (() => void)
}
