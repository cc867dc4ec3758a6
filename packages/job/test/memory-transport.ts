import { createContext, type CheckpointSettings, type JobContext, type Transport } from '@mvm/job'

export interface MemoryJobOptions {
  checkpoint?: CheckpointSettings
  /** Per rank: what `ctx.restored` is built from (a cut envelope in coordinated mode). */
  restored?: unknown[]
  /** Sees every state a rank checkpoints (as JSON text, the way the runtime ships it). */
  onCheckpoint?: (rank: number, json: string) => void
  /** Sees every rank-addressed message (collectives, ctx.shared) as it is sent. */
  onSendRank?: (from: number, to: number, tag: number) => void
}

/** N contexts in one process joined by unbounded in-memory mailboxes: exercises the SDK's logic only. */
export function memoryJob (links: Array<Record<string, { peer: number, peerPort: string }>>, groups: Array<Record<string, string[]>> = [], o: MemoryJobOptions = {}): JobContext[] {
  const n = links.length
  const boxes = new Map<string, { items: unknown[], waiters: Array<(v: unknown) => void> }>()
  const box = (k: string): { items: unknown[], waiters: Array<(v: unknown) => void> } => {
    let b = boxes.get(k)
    if (b === undefined) { b = { items: [], waiters: [] }; boxes.set(k, b) }
    return b
  }
  const put = (k: string, v: unknown): void => {
    const b = box(k)
    const w = b.waiters.shift()
    if (w !== undefined) w(v); else b.items.push(v)
  }
  const take = async (k: string): Promise<unknown> => {
    const b = box(k)
    if (b.items.length > 0) return b.items.shift()
    return await new Promise((resolve) => b.waiters.push(resolve))
  }
  return links.map((ports, rank) => {
    const t: Transport = {
      sendPort: async (port, value) => { const l = ports[port]!; put(`p:${l.peer}:${l.peerPort}`, structuredClone(value)) },
      recvPort: async (port) => await take(`p:${rank}:${port}`),
      recvAny: async () => {
        for (const p of Object.keys(ports)) {
          const b = box(`p:${rank}:${p}`)
          if (b.items.length > 0) return { port: p, value: b.items.shift() }
        }
        throw new Error('memory transport: recv() only supports ready items')
      },
      sendRank: async (to, tag, value) => { o.onSendRank?.(rank, to, tag); put(`c:${to}:${rank}:${tag}`, structuredClone(value)) },
      recvRank: async (from, tag) => await take(`c:${rank}:${from}:${tag}`),
      log: () => {},
      checkpoint: async (state) => { o.onCheckpoint?.(rank, JSON.stringify(state)) }
    }
    return createContext({
      rank, size: n, ports: Object.keys(ports), groups: groups[rank] ?? {},
      ...(o.checkpoint === undefined ? {} : { checkpoint: o.checkpoint }),
      ...(o.restored?.[rank] === undefined ? {} : { restored: o.restored[rank] })
    }, t)
  })
}

export function ringLinks (n: number): Array<Record<string, { peer: number, peerPort: string }>> {
  return Array.from({ length: n }, (_, r) => ({ next: { peer: (r + 1) % n, peerPort: 'prev' }, prev: { peer: (r + n - 1) % n, peerPort: 'next' } }))
}
