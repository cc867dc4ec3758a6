import { BadRequestError, UnavailableError, sleep } from '@mvm/core'
import { LOG_LIMITS, type BrokerClient, type JobInfo, type JobRankLog } from '@mvm/soap/client'

export type Stream = 'out' | 'err'

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'held'])

/** Reads per rank and poll before yielding to the next rank: a firehose cannot starve the others. */
const MAX_READS_PER_POLL = 16

export interface FollowOptions {
  rank?: number
  streams: Stream[]
  /** Start from the last n lines of each stream instead of the beginning. */
  tail?: number
  /** Pause between polls while nothing ends (bounded by the caller). */
  intervalMs: number
  write: (text: string) => void
  warn: (text: string) => void
  signal?: AbortSignal
}

/** Where one rank's streams have been read to, and the unfinished last line of each. */
interface Cursor { peerId?: string, out: number, err: number, partial: Record<Stream, string>, started: boolean, error?: string }

/**
 * `mvm logs -f`: follows a job's ranks with GetJobLogs' byte cursor (outOffset/errOffset in,
 * outEnd/errEnd out), so each byte is printed once however the polls fall. Only whole lines are
 * printed, labelled as `mvm logs` does; a last line without a newline is printed when the job ends.
 * Resolves with the job's final state once its logs are drained.
 */
export async function followLogs (broker: BrokerClient, jobArg: string, o: FollowOptions): Promise<JobInfo> {
  const cursors = new Map<number, Cursor>()
  let jobId = jobArg
  const labelled = (rank: number, s: Stream, text: string): string => text.split('\n').map((l) => `[r${rank} ${s}] ${l}\n`).join('')
  for (;;) {
    // state first, logs second: a job seen finished has written everything it will write
    const info = await broker.GetJob({ jobId }, { timeoutMs: 10_000, ...(o.signal !== undefined ? { signal: o.signal } : {}) })
    if ((info.childJobIds ?? []).length > 0) throw new BadRequestError(`job ${info.jobId} is an array job; follow one of its elements: ${(info.childJobIds ?? []).join(', ')}`)
    if (o.rank !== undefined && o.rank >= info.size) throw new BadRequestError(`--rank: job ${info.jobId} has ranks 0..${info.size - 1}; there is no rank ${o.rank}`)
    // the broker takes a unique prefix; the full id from here on
    jobId = info.jobId
    const final = FINAL.has(info.state)
    if (info.placement.length > 0) {
      const ranks = o.rank !== undefined ? [o.rank] : info.placement.map((p) => p.rank)
      // a finished job is read until a pass brings nothing new: the last bytes may trail the state
      for (let pass = 0; pass < 3; pass++) {
        let gotAny = false
        for (const r of ranks) gotAny = (await pollRank(r)) || gotAny
        if (!final || !gotAny) break
      }
    }
    if (final) {
      for (const [rank, c] of cursors) {
        for (const s of o.streams) if (c.partial[s] !== '') o.write(labelled(rank, s, c.partial[s]))
        if (!c.started && c.error !== undefined) o.warn(`mvm: rank ${rank}: ${c.error}\n`)
      }
      return info
    }
    await sleep(o.intervalMs, o.signal)
  }

  /** Reads one rank on from its cursor; true when new bytes came. */
  async function pollRank (rank: number): Promise<boolean> {
    let c = cursors.get(rank)
    if (c === undefined) { c = { out: 0, err: 0, partial: { out: '', err: '' }, started: false }; cursors.set(rank, c) }
    let got = false
    for (let i = 0; i < MAX_READS_PER_POLL; i++) {
      const fromTail = !c.started && o.tail !== undefined
      const req = { jobId, rank, maxBytes: fromTail ? LOG_LIMITS.defaultBytes : LOG_LIMITS.maxBytes, ...(fromTail ? {} : { outOffset: c.out, errOffset: c.err }) }
      const { logs } = await broker.GetJobLogs(req, { timeoutMs: 60_000, ...(o.signal !== undefined ? { signal: o.signal } : {}) })
      const l: JobRankLog | undefined = logs.find((x) => x.rank === rank)
      // no log yet (the rank has not started, or its peer is slow): try again next poll
      if (l === undefined || l.error !== undefined) { c.error = l?.error ?? 'no log returned'; return got }
      if (l.outEnd === undefined || l.errEnd === undefined) throw new UnavailableError('this broker or its peers cannot follow logs (no outEnd/errEnd cursor in GetJobLogs); run mvm logs without -f')
      if (c.peerId !== undefined && l.peerId !== c.peerId && !fromTail) {
        // requeued elsewhere: the new peer's files start from nothing
        o.warn(`mvm: rank ${rank} now runs on peer ${l.peerId}; its output starts again\n`)
        c.out = 0; c.err = 0; c.partial = { out: '', err: '' }
        continue
      }
      c.peerId = l.peerId
      const before = [c.out, c.err]
      take(rank, c, 'out', l.stdout, fromTail)
      take(rank, c, 'err', l.stderr, fromTail)
      c.out = l.outEnd; c.err = l.errEnd
      c.started = true
      got ||= c.out !== before[0] || c.err !== before[1]
      // a read that filled its budget has more behind it; otherwise this rank is caught up
      const full = c.out - before[0]! >= LOG_LIMITS.maxBytes - 4 || c.err - before[1]! >= LOG_LIMITS.maxBytes - 4
      if (!full && !fromTail) return got
    }
    return got
  }

  function take (rank: number, c: Cursor, s: Stream, text: string, fromTail: boolean): void {
    if (!o.streams.includes(s)) return
    let buf = c.partial[s] + text
    if (fromTail && o.tail !== undefined) {
      // the tail's first line may be cut by the byte bound: only the last n whole lines
      const lines = buf.split('\n')
      const rest = lines.pop() ?? ''
      // an unfinished last line counts as one of the n, as `mvm logs --tail` counts it
      const keep = o.tail - (rest !== '' ? 1 : 0)
      buf = (keep <= 0 ? [] : lines.slice(-keep)).map((x) => x + '\n').join('') + (o.tail > 0 ? rest : '')
    }
    const nl = buf.lastIndexOf('\n')
    if (nl >= 0) o.write(labelled(rank, s, buf.slice(0, nl)))
    c.partial[s] = buf.slice(nl + 1)
  }
}
