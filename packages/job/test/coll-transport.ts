import { createContext, type JobContext, type Transport } from '@mvm/job'

/** What one batch of collective calls cost: messages and the longest chain of dependent ones. */
export interface Cost {
  messages: number
  /** Messages between ranks on different nodes (by the job's locality; all of them without). */
  crossMessages: number
  /** Rounds: the longest chain of messages where each was sent after the previous one arrived. */
  rounds: number
  /** The same chain counting only cross-node messages. */
  crossRounds: number
  /** Top-level elements moved (arrays and typed arrays count their length, other values 1). */
  elements: number
}

export interface CollJob {
  ctxs: JobContext[]
  /** Cost since the last reset; resets the counters and every rank's clock. */
  take: () => Cost
  /** Duplicate (from, to, tag) messages seen: a tag collision between calls or rounds. */
  collisions: string[]
}

export interface CollJobInit {
  locality?: number[]
  /** Seed of the delivery shuffle. */
  seed?: number
  /** Deliver values as JSON text, as today's runtime transport does (typed arrays lose their type). */
  json?: boolean
  /** Pass `locality` to the contexts (default true); false measures the flat algorithms on the same nodes. */
  tellLocality?: boolean
}

/**
 * `size` ranks in one process. Each collective message is delivered after a random number of
 * event-loop turns (seeded), so arrivals come in any order; a mailbox holds one value per
 * (from, to, tag), as the runtime's does, and a second one is recorded as a collision.
 * Each message carries a Lamport-style depth, which gives the rounds an algorithm needs.
 */
export function collJob (size: number, init: CollJobInit = {}): CollJob {
  let seed = (init.seed ?? 1) >>> 0
  const rand = (): number => { seed = (seed * 1664525 + 1013904223) >>> 0; return seed / 2 ** 32 }
  const node = (r: number): number => init.locality?.[r] ?? r
  const seen = new Set<string>()
  const collisions: string[] = []
  const slots = new Map<string, { value?: Msg, wake?: (m: Msg) => void }>()
  const clock = new Array<{ d: number, x: number }>(size).fill({ d: 0, x: 0 }).map(() => ({ d: 0, x: 0 }))
  let cost: Cost = { messages: 0, crossMessages: 0, rounds: 0, crossRounds: 0, elements: 0 }
  interface Msg { value: unknown, d: number, x: number }

  const deliver = (key: string, m: Msg): void => {
    const s = slots.get(key)
    if (s?.wake !== undefined) { slots.delete(key); s.wake(m) } else slots.set(key, { value: m })
  }
  const later = (turns: number, f: () => void): void => {
    if (turns === 0) { f(); return }
    setImmediate(() => { later(turns - 1, f) })
  }
  const ctxs = Array.from({ length: size }, (_, rank) => {
    const t: Transport = {
      sendPort: async () => { throw new Error('no ports here') },
      recvPort: async () => { throw new Error('no ports here') },
      recvAny: async () => { throw new Error('no ports here') },
      sendRank: async (to, tag, value) => {
        if (!Number.isSafeInteger(tag) || tag < 0) throw new Error(`bad tag ${tag}`)
        const key = `${rank}>${to}#${tag}`
        if (seen.has(key)) collisions.push(key)
        seen.add(key)
        const cross = node(rank) !== node(to)
        const m: Msg = { value: init.json === true ? JSON.parse(JSON.stringify(value) ?? 'null') : structuredClone(value), d: clock[rank]!.d + 1, x: clock[rank]!.x + (cross ? 1 : 0) }
        cost.messages++
        if (cross) cost.crossMessages++
        cost.rounds = Math.max(cost.rounds, m.d)
        cost.crossRounds = Math.max(cost.crossRounds, m.x)
        cost.elements += Array.isArray(value) || ArrayBuffer.isView(value) ? (value as { length: number }).length : 1
        later(Math.floor(rand() * 6), () => { deliver(key, m) })
      },
      recvRank: async (from, tag) => {
        const key = `${from}>${rank}#${tag}`
        const s = slots.get(key)
        let m: Msg
        if (s?.value !== undefined) { slots.delete(key); m = s.value } else m = await new Promise<Msg>((resolve) => slots.set(key, { wake: resolve }))
        const c = clock[rank]!
        c.d = Math.max(c.d, m.d)
        c.x = Math.max(c.x, m.x)
        return m.value
      },
      log: () => {},
      checkpoint: async () => {}
    }
    const locality = init.tellLocality === false ? undefined : init.locality
    return createContext({ rank, size, ports: [], ...(locality !== undefined ? { locality } : {}) }, t)
  })
  return {
    ctxs,
    collisions,
    take: () => {
      const c = cost
      cost = { messages: 0, crossMessages: 0, rounds: 0, crossRounds: 0, elements: 0 }
      for (const k of clock) { k.d = 0; k.x = 0 }
      return c
    }
  }
}
