import { createFiles } from './files.js'
import { BadRequestError } from '@mvm/core'
import { Collectives } from './collectives.js'
import { CoordinatedCuts, isCutEnvelope } from './cut.js'
import { SharedStore } from './shared.js'
import { isResizeEnvelope, openResize, type ResizeInfo } from './resize.js'
import type { ContextInit, JobContext, RecvFn, Transport } from './types.js'

/** Binds a rank's identity and ports to a transport; validates every port name a program uses. */
export function createContext (init: ContextInit, base: Transport): JobContext {
  const signal = init.signal ?? new AbortController().signal
  let transport = base
  let restored = init.restored
  let resized: ResizeInfo | undefined
  if (init.checkpoint?.mode === 'coordinated') {
    let env = isCutEnvelope(init.restored) ? init.restored : undefined
    if (isResizeEnvelope(init.restored)) {
      const opened = openResize(init.restored, init.size)
      env = opened.cut
      resized = opened.info
    }
    const cuts = new CoordinatedCuts({ rank: init.rank, size: init.size, ports: init.ports, intervalSec: init.checkpoint.intervalSec, signal, ...(env === undefined ? {} : { restored: env }) }, base)
    transport = cuts.transport()
    restored = env?.state
  }
  const shared = new SharedStore(init.rank, init.size, transport, signal)
  // served from the start: a rank's keys answer even before its program touches ctx.shared
  if (init.size > 1) shared.serve()
  const ports = [...init.ports]
  const portSet = new Set(ports)
  const groups = init.groups ?? {}
  const coll = new Collectives(init.rank, init.size, transport, signal, init.locality)

  const known = (): string => [...ports, ...Object.keys(groups).map((g) => `${g} (group)`)].join(', ') || 'none'
  const checkPort = (port: unknown, op: string): string => {
    if (typeof port !== 'string' || !portSet.has(port)) {
      throw new BadRequestError(`${op}: rank ${init.rank} has no port "${String(port)}"; its ports: ${known()}`, { data: { port, rank: init.rank } })
    }
    return port
  }

  const recv = (async (port?: string) => {
    if (port === undefined) {
      if (ports.length === 0) throw new BadRequestError(`recv(): rank ${init.rank} has no ports`)
      return await transport.recvAny(signal)
    }
    return await transport.recvPort(checkPort(port, 'recv'), signal)
  }) as RecvFn

  return {
    rank: init.rank,
    size: init.size,
    params: Object.freeze({ ...init.params }),
    ports: Object.freeze(ports),
    groups: Object.freeze(Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, Object.freeze([...v])]))),
    signal,
    restored,
    resized,
    onResize: async (fn) => {
      return resized === undefined ? undefined : await fn(resized)
    },
    async send (port, value) {
      const group = typeof port === 'string' && !portSet.has(port) ? groups[port] : undefined
      if (group !== undefined) {
        await Promise.all(group.map(async (p) => await transport.sendPort(p, value, signal)))
        return
      }
      await transport.sendPort(checkPort(port, 'send'), value, signal)
    },
    recv,
    barrier: async () => await coll.barrier(),
    broadcast: async (v, root) => await coll.broadcast(v, root),
    reduce: async (v, op, root) => await coll.reduce(v, op, root),
    allReduce: async (v, op) => await coll.allReduce(v, op),
    gather: async (v, root) => await coll.gather(v, root),
    scatter: async (v, root) => await coll.scatter(v, root),
    log: (...args) => transport.log(args.map((a) => typeof a === 'string' ? a : safeJson(a)).join(' ')),
    checkpoint: async (state) => await transport.checkpoint(state),
    shared: shared.space(),
    files: createFiles(init.files ?? [], transport, signal, () => init.workDir ?? process.cwd())
  }
}

function safeJson (v: unknown): string {
  try { return JSON.stringify(v) ?? String(v) } catch { return String(v) }
}
