import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { promisify } from 'node:util'
import { gunzip, gzip } from 'node:zlib'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { ProtocolError, UnavailableError, combineSignals, sleep, toMvmError, type Logger } from '@mvm/core'
import type { StreamAccess } from './streams.js'

/**
 * The broker's durable log, streamed to a standby super-peer: the active super-peer sends its
 * whole job store (a SQLite file image, gzip) whenever it changed, and a beat every heartbeat
 * interval otherwise; the standby writes each image to disk and acknowledges it. A submission
 * is answered once every connected standby holds it (bounded), so a job a client was given an
 * id for survives the active super-peer's death.
 */
export const REPLICA_PROTOCOL = '/mvm/broker-replica/1.0.0'

const Kind = { snapshot: 1, beat: 2, ack: 3 } as const
const HEADER = 9
/** A compressed job store larger than this is refused (the follower's bound on one frame). */
const MAX_FRAME_BYTES = 256 * 1024 * 1024
/** And its image once decompressed. */
const MAX_IMAGE_BYTES = 1024 * 1024 * 1024
/** How often a source looks for changes to send (at most: its heartbeat when that is shorter). */
const POLL_MS = 100
const SQLITE_MAGIC = 'SQLite format 3\u0000'

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)

/** What the active super-peer replicates: its broker's job store. */
export interface ReplicaSource {
  changeCount: () => number
  snapshot: () => Uint8Array
}

export interface ReplicaServerInit {
  streams: StreamAccess
  /** The broker, once started; undefined: nothing to send yet (beats only). */
  source: () => ReplicaSource | undefined
  heartbeatMs: number
  log: Logger
}

/** A standby as the active super-peer sees it. */
export interface FollowerInfo { peerId: string, acked: number, ackedAtMs: number }

function frame (kind: number, version: number, body?: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + (body?.byteLength ?? 0))
  out[0] = kind
  new DataView(out.buffer).setFloat64(1, version)
  if (body !== undefined) out.set(body, HEADER)
  return out
}

function parse (b: Uint8Array): { kind: number, version: number, body: Uint8Array } {
  if (b.byteLength < HEADER) throw new ProtocolError(`broker replica: a frame of ${b.byteLength} bytes is shorter than its header`)
  return { kind: b[0]!, version: new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(1), body: b.subarray(HEADER) }
}

/** The active super-peer's side: serves every standby that dials it. */
export class ReplicaServer {
  private readonly life = new AbortController()
  private readonly followers = new Map<Stream, FollowerInfo>()
  private waiters: Array<{ version: number, done: (ok: boolean) => void }> = []
  private pokes: Array<() => void> = []

  constructor (private readonly init: ReplicaServerInit) {}

  async start (): Promise<void> {
    await this.init.streams.handle(REPLICA_PROTOCOL, (stream, peerId) => { void this.serve(stream, peerId) })
  }

  async stop (): Promise<void> {
    this.life.abort(new UnavailableError('replica source stopping'))
    await this.init.streams.unhandle(REPLICA_PROTOCOL).catch(() => {})
    for (const w of this.waiters.splice(0)) w.done(false)
  }

  list (): FollowerInfo[] { return [...this.followers.values()].map((f) => ({ ...f })) }

  /**
   * Resolves true once every connected standby holds the store as it is now (at once when none
   * is connected), false after `timeoutMs`: a dead standby must not stop submissions.
   */
  async replicated (timeoutMs: number): Promise<boolean> {
    const src = this.init.source()
    if (src === undefined || this.followers.size === 0) return true
    const version = src.changeCount()
    if (this.caughtUp(version)) return true
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => { settle(false) }, timeoutMs)
      const settle = (ok: boolean): void => {
        clearTimeout(timer)
        this.waiters = this.waiters.filter((w) => w.done !== settle)
        resolve(ok)
      }
      this.waiters.push({ version, done: settle })
      for (const p of this.pokes.splice(0)) p()
    })
  }

  private caughtUp (version: number): boolean {
    for (const f of this.followers.values()) if (f.acked < version) return false
    return true
  }

  private settle (): void {
    for (const w of [...this.waiters]) if (this.followers.size === 0 || this.caughtUp(w.version)) w.done(true)
  }

  private async serve (stream: Stream, peerId: string): Promise<void> {
    const { log, heartbeatMs } = this.init
    const signal = this.life.signal
    const lp = lpStream(stream, { maxDataLength: HEADER })
    const f: FollowerInfo = { peerId, acked: -1, ackedAtMs: 0 }
    this.followers.set(stream, f)
    log.info({ standby: peerId }, 'standby super-peer following')
    const onAbort = (): void => { stream.abort(toMvmError(signal.reason)) }
    signal.addEventListener('abort', onAbort, { once: true })
    const reading = (async () => {
      for (;;) {
        const m = parse((await lp.read({ signal })).subarray())
        if (m.kind !== Kind.ack) throw new ProtocolError(`broker replica: unexpected frame kind ${m.kind} from the standby`)
        f.acked = Math.max(f.acked, m.version)
        f.ackedAtMs = Date.now()
        this.settle()
      }
    })()
    // the standby hung up (or sent garbage): end the writer too
    reading.catch((e: unknown) => { if (stream.status === 'open') stream.abort(e instanceof Error ? e : new Error(String(e))) })
    let sent = -1
    let lastSent = 0
    try {
      while (!signal.aborted && stream.status === 'open') {
        const src = this.init.source()
        if (src !== undefined && src.changeCount() !== sent) {
          const image = src.snapshot()
          // taking the image commits pending writes: count after it
          const version = src.changeCount()
          const body = await gzipAsync(image, { level: 1 })
          await lp.write(frame(Kind.snapshot, version, body), { signal })
          sent = version
          lastSent = Date.now()
        } else if (Date.now() - lastSent >= heartbeatMs) {
          await lp.write(frame(Kind.beat, sent), { signal })
          lastSent = Date.now()
        }
        await this.pause(Math.min(POLL_MS, heartbeatMs), signal)
      }
    } catch (e) {
      if (!signal.aborted) log.warn({ standby: peerId }, `standby stream ended: ${toMvmError(e).message}`)
    } finally {
      signal.removeEventListener('abort', onAbort)
      this.followers.delete(stream)
      this.settle()
      if (stream.status === 'open') stream.abort(new UnavailableError('replica stream ended'))
    }
  }

  /** Sleeps `ms`, or less when a submission waits for its copy. */
  private async pause (ms: number, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        this.pokes = this.pokes.filter((p) => p !== done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      this.pokes.push(done)
    })
  }
}

export interface FollowInit {
  streams: StreamAccess
  /** Where the active super-peer is (the bootstrap's answer for the group). */
  locate: (signal: AbortSignal) => Promise<{ peerId?: string, multiaddrs: string[] }>
  /** The job store file to keep (the broker opens it here after a takeover). */
  file: string
  heartbeatMs: number
  missedHeartbeats: number
  log: Logger
  signal: AbortSignal
  /** Told of every image stored (its version and size). */
  onSnapshot?: (version: number, bytes: number) => void
}

/**
 * The standby's side: keeps `file` a copy of the active broker's job store. Resolves when the
 * active super-peer should be taken over: a copy was stored, and nothing was heard from the
 * active one for `missedHeartbeats` heartbeat intervals (the group's own failure bound).
 * Rejects only when `signal` aborts.
 */
export async function followReplica (init: FollowInit): Promise<{ silentMs: number, version: number }> {
  const { log, signal } = init
  const boundMs = init.heartbeatMs * init.missedHeartbeats
  const st = { synced: false, lastHeard: Date.now(), version: -1 }
  for (;;) {
    signal.throwIfAborted()
    try {
      const target = await init.locate(combineSignals([signal], boundMs + 5000))
      if (target.peerId === undefined) throw new UnavailableError('the bootstrap named no peer id for the active super-peer')
      const stream = await init.streams.dial(target.peerId, target.multiaddrs, REPLICA_PROTOCOL, { signal: combineSignals([signal], Math.max(boundMs, 1000)) })
      await session(stream, init, st, boundMs)
    } catch (e) {
      signal.throwIfAborted()
      log.debug({ err: toMvmError(e).message }, 'not following the active super-peer')
    }
    const silentMs = Date.now() - st.lastHeard
    if (st.synced && silentMs > boundMs) return { silentMs, version: st.version }
    await sleep(Math.max(10, Math.min(init.heartbeatMs, 500)), signal)
  }
}

async function session (stream: Stream, init: FollowInit, st: { synced: boolean, lastHeard: number, version: number }, boundMs: number): Promise<void> {
  const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
  try {
    for (;;) {
      // a silent active super-peer (hung, or its host cut off) is as good as a dead one
      const m = parse((await lp.read({ signal: combineSignals([init.signal], boundMs) })).subarray())
      st.lastHeard = Date.now()
      if (m.kind === Kind.beat) continue
      if (m.kind !== Kind.snapshot) throw new ProtocolError(`broker replica: unexpected frame kind ${m.kind} from the active super-peer`)
      const image = await gunzipAsync(m.body, { maxOutputLength: MAX_IMAGE_BYTES })
      if (image.subarray(0, 16).toString('latin1') !== SQLITE_MAGIC) throw new ProtocolError('broker replica: the snapshot is not a SQLite database')
      await install(init.file, image)
      st.synced = true
      st.version = m.version
      init.onSnapshot?.(m.version, image.byteLength)
      await lp.write(frame(Kind.ack, m.version), { signal: init.signal })
    }
  } finally {
    if (stream.status === 'open') stream.abort(new UnavailableError('no longer following'))
  }
}

/**
 * Replaces the store file by the image, durably: written beside it and synced, then renamed
 * over it. The old write-ahead log goes first: left beside the new file, SQLite would replay it.
 */
async function install (file: string, image: Uint8Array): Promise<void> {
  const tmp = `${file}.standby-tmp`
  await mkdir(dirname(file), { recursive: true })
  const fh = await open(tmp, 'w')
  try {
    await fh.writeFile(image)
    await fh.sync()
  } finally {
    await fh.close()
  }
  await rm(`${file}-wal`, { force: true })
  await rm(`${file}-shm`, { force: true })
  await rename(tmp, file)
}
