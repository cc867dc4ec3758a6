import { sleep, toMvmError } from '@mvm/core'
import type { WebJob, WebRankLog, WebSource } from './source.js'

/** Bounds of one log stream (the page keeps its own bound on the lines it shows). */
export const LOG_STREAM_LIMITS = {
  /** Bytes read per rank, stream and poll: a firehose rank is followed at this pace and cannot starve the others. */
  readBytes: 16 * 1024,
  /** A rank's first read is its last bytes, not a whole file of history. */
  tailBytes: 16 * 1024,
  /** Longer lines (and an unfinished line that keeps growing) are sent in pieces of this many characters. */
  lineChars: 2000,
  /** Most bytes of one event's JSON payload. */
  eventBytes: 32 * 1024,
  /** Ranks one stream follows (the lowest ones): each costs the broker a peer call per poll. */
  ranks: 64,
  /** Once the job is seen finished, passes until one brings nothing new: the last bytes may trail the state. */
  drainPasses: 3
} as const

/** The states `mvm logs -f` stops at, so both end a follow at the same point. */
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'held'])

type Stream = 'out' | 'err'

/** Where the stream writes its events; `signal` aborts when the client goes away. */
export interface EventSink {
  send: (event: string, data: unknown) => void
  /** Resolves once the client has read what was sent (backpressure for a slow client). */
  drained: () => Promise<void>
  signal: AbortSignal
}

/** Where one rank has been read to, on which peer, and the unfinished last line of each stream. */
interface RankCursor { peerId: string, out: number, err: number, partial: Record<Stream, string>, error?: string }

/**
 * Follows a job's rank logs with the GetJobLogs byte cursor, as `mvm logs -f` does, and sends
 * whole lines as `log` events (`{ rank, stream, lines }`); `notice` events say what the page
 * should know (a tail, a rank that moved, a peer that cannot answer), `problem` events what went
 * wrong. Ends with an `end` event (`{ state }`) once the job is finished and its logs drained.
 */
export async function followLogs (src: WebSource, jobArg: string, sink: EventSink, o: { intervalMs: number }): Promise<void> {
  const cursors = new Map<number, RankCursor>()
  // a rank not yet read: its peer says "no logs" until the rank starts, so its errors wait for the end
  const unread = new Map<number, string>()
  let lastProblem = ''
  const problem = (err: unknown): void => {
    const message = toMvmError(err).message
    if (message !== lastProblem) sink.send('problem', { message })
    lastProblem = message
  }
  let job: WebJob
  try { job = src.job(jobArg) } catch (err) { problem(err); sink.send('end', {}); return }
  const jobId = job.jobId
  const followed = Math.min(job.size, LOG_STREAM_LIMITS.ranks)
  sink.send('start', { jobId, size: job.size, ranks: followed })
  if (followed < job.size) sink.send('notice', { message: `following ranks 0..${followed - 1} of ${job.size}; mvm logs ${jobId} --rank N shows the others` })

  while (!sink.signal.aborted) {
    // state first, logs second: a job seen finished has written everything it will write
    try { job = src.job(jobId) } catch (err) { problem(err); sink.send('end', {}); return }
    const final = FINAL.has(job.state)
    for (let pass = 0; pass < (final ? LOG_STREAM_LIMITS.drainPasses : 1); pass++) {
      let got = false
      for (let r = 0; r < followed && !sink.signal.aborted; r++) got = (await pollRank(r)) || got
      await sink.drained()
      if (!got) break
    }
    if (sink.signal.aborted) return
    if (final) {
      for (const [rank, c] of cursors) for (const s of ['out', 'err'] as const) if (c.partial[s] !== '') emit(rank, s, [c.partial[s]])
      for (const [rank, message] of unread) sink.send('notice', { rank, message })
      sink.send('end', { state: job.state })
      return
    }
    try { await sleep(o.intervalMs, sink.signal) } catch { return }
  }

  /** Reads rank `rank` on from its cursor; true when new bytes came. */
  async function pollRank (rank: number): Promise<boolean> {
    const c = cursors.get(rank)
    let l: WebRankLog | undefined
    try {
      l = await src.logs(jobId, rank, c === undefined ? undefined : { outOffset: c.out, errOffset: c.err }, c === undefined ? LOG_STREAM_LIMITS.tailBytes : LOG_STREAM_LIMITS.readBytes)
    } catch (err) { problem(err); return false }
    // not placed yet, or its peer cannot answer: the cursor stays, the next poll tries again
    if (l === undefined) return false
    if (l.error !== undefined) {
      if (c === undefined) unread.set(rank, l.error)
      else if (c.error !== l.error) { sink.send('notice', { rank, message: l.error }); c.error = l.error }
      return false
    }
    if (c === undefined) {
      unread.delete(rank)
      const fresh: RankCursor = { peerId: l.peerId, out: 0, err: 0, partial: { out: '', err: '' } }
      cursors.set(rank, fresh)
      if (l.truncated) sink.send('notice', { rank, message: `rank ${rank}: earlier output not shown (mvm logs ${jobId} --rank ${rank} has it all)` })
      take(rank, fresh, l, true)
      return l.outEnd > 0 || l.errEnd > 0
    }
    if (l.peerId !== c.peerId) {
      // requeued elsewhere: the new peer's files start from nothing
      sink.send('notice', { rank, message: `rank ${rank} now runs on peer ${l.peerId}; its output starts again` })
      cursors.set(rank, { peerId: l.peerId, out: 0, err: 0, partial: { out: '', err: '' } })
      return true
    }
    delete c.error
    const moved = l.outEnd !== c.out || l.errEnd !== c.err
    take(rank, c, l, false)
    return moved
  }

  function take (rank: number, c: RankCursor, l: WebRankLog, tail: boolean): void {
    for (const [s, text, end] of [['out', l.stdout, l.outEnd], ['err', l.stderr, l.errEnd]] as const) {
      // a tail that starts past the file's beginning may start inside a line: mark it cut
      const cut = tail && text !== '' && Buffer.byteLength(text) < end
      const lines = (c.partial[s] + (cut ? '…' : '') + text).split('\n')
      let rest = lines.pop() ?? ''
      // an unfinished line that keeps growing is sent in pieces, so what is held back stays bounded
      while (rest.length > LOG_STREAM_LIMITS.lineChars) { lines.push(rest.slice(0, LOG_STREAM_LIMITS.lineChars)); rest = rest.slice(LOG_STREAM_LIMITS.lineChars) }
      c.partial[s] = rest
      if (lines.length > 0) emit(rank, s, lines)
    }
    c.out = l.outEnd; c.err = l.errEnd
  }

  /** Sends lines as `log` events, each line at most lineChars, each event's payload at most eventBytes. */
  function emit (rank: number, stream: Stream, lines: string[]): void {
    let batch: string[] = []
    let bytes = 0
    for (const whole of lines) {
      const line = whole.endsWith('\r') ? whole.slice(0, -1) : whole
      for (let i = 0; i === 0 || i < line.length; i += LOG_STREAM_LIMITS.lineChars) {
        const piece = line.slice(i, i + LOG_STREAM_LIMITS.lineChars)
        const size = Buffer.byteLength(JSON.stringify(piece)) + 1
        if (bytes + size > LOG_STREAM_LIMITS.eventBytes - 64 && batch.length > 0) { sink.send('log', { rank, stream, lines: batch }); batch = []; bytes = 0 }
        batch.push(piece); bytes += size
      }
    }
    if (batch.length > 0) sink.send('log', { rank, stream, lines: batch })
  }
}
