import { constants } from 'node:fs'
import { open, readdir, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { NotFoundError } from '@mvm/core'
import type { Handler, GetLogsRequest, GetLogsResponse, RankLog } from '@mvm/soap'
import { checkLogsRequest, perStreamBudget, xmlSafe } from '@mvm/soap'

/** Where a peer's runtime keeps rank logs (`<dataDir>/runtime/logs/<jobId>.r<rank>.out|.err`, see PeerAgent). */
export function runtimeLogDir (dataDir: string): string {
  return join(dataDir, 'runtime', 'logs')
}

/** `end`: the byte offset just past `text` in the file, where a follower reads on from. */
export interface LogTail { text: string, truncated: boolean, end: number }

/**
 * The last `maxBytes` bytes of a log file (or, given `from`, the bytes from that offset on,
 * at most `maxBytes`), undefined when there is none. A symlink or anything but a regular file
 * is refused: a log folder is ours, a link in it is not.
 */
export async function readTail (file: string, maxBytes: number, from?: number): Promise<LogTail | undefined> {
  let fh
  try {
    fh = await open(file, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ELOOP') return undefined
    throw err
  }
  try {
    const st = await fh.stat()
    if (!st.isFile()) return undefined
    if (from !== undefined) return await readFrom(fh, st.size, Math.min(from, st.size), maxBytes)
    const start = Math.max(0, st.size - maxBytes)
    const buf = Buffer.alloc(st.size - start)
    const { bytesRead } = await fh.read(buf, 0, buf.length, start)
    let bytes = buf.subarray(0, bytesRead)
    // a cut inside a UTF-8 sequence would decode as garbage: start at the next character
    if (start > 0) { let i = 0; while (i < 3 && i < bytes.length && (bytes[i]! & 0xc0) === 0x80) i++; bytes = bytes.subarray(i) }
    return { text: xmlSafe(bytes.toString('utf8')), truncated: start > 0, end: start + bytesRead }
  } finally {
    await fh.close()
  }
}

/**
 * A follower's read: from `from` on, at most `maxBytes`, stopping before a UTF-8 sequence the
 * bound (or a writer mid-character) cut, so `end` always lands on a character boundary and the
 * next read decodes cleanly; a lone partial character is held back until it completes.
 */
async function readFrom (fh: FileHandle, size: number, from: number, maxBytes: number): Promise<LogTail> {
  const buf = Buffer.alloc(Math.min(maxBytes, size - from))
  const { bytesRead } = await fh.read(buf, 0, buf.length, from)
  let n = bytesRead
  // walk back over continuation bytes to the lead byte; drop it if its sequence is incomplete
  let i = n - 1
  while (i >= 0 && i > n - 4 && (buf[i]! & 0xc0) === 0x80) i--
  if (i >= 0 && buf[i]! >= 0xc0) {
    const need = buf[i]! >= 0xf0 ? 4 : buf[i]! >= 0xe0 ? 3 : 2
    if (n - i < need) n = i
  }
  return { text: xmlSafe(buf.subarray(0, n).toString('utf8')), truncated: false, end: from + n }
}

/** Ranks of `jobId` with a log file in `logDir`, ascending. */
export async function loggedRanks (logDir: string, jobId: string): Promise<number[]> {
  let names: string[]
  try { names = await readdir(logDir) } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const prefix = `${jobId}.r`
  const ranks = new Set<number>()
  for (const n of names) {
    if (!n.startsWith(prefix)) continue
    const m = /^(\d{1,9})\.(?:out|err)$/.exec(n.slice(prefix.length))
    if (m !== null) ranks.add(Number(m[1]))
  }
  return [...ranks].sort((a, b) => a - b)
}

/** One rank's stdout and stderr tails, or undefined when the rank left no log here. */
export async function rankLog (logDir: string, jobId: string, rank: number, maxBytes: number, from: { outOffset?: number, errOffset?: number } = {}): Promise<RankLog | undefined> {
  const base = join(logDir, `${jobId}.r${rank}`)
  const [out, err] = await Promise.all([readTail(base + '.out', maxBytes, from.outOffset), readTail(base + '.err', maxBytes, from.errOffset)])
  if (out === undefined && err === undefined) return undefined
  return {
    rank, stdout: out?.text ?? '', stderr: err?.text ?? '', truncated: out?.truncated === true || err?.truncated === true,
    // a stream with no file yet: the follower's cursor stays where it was
    outEnd: out?.end ?? from.outOffset ?? 0, errEnd: err?.end ?? from.errOffset ?? 0
  }
}

/** Node.GetLogs over a peer's data dir: the logs of the job's ranks that ran on this node. */
export function nodeLogsHandler (init: { dataDir: string }): Handler<GetLogsRequest, GetLogsResponse> {
  const logDir = runtimeLogDir(init.dataDir)
  return async (req) => {
    const q = checkLogsRequest(req, 'Node.GetLogs')
    const ranks = q.rank !== undefined ? [q.rank] : await loggedRanks(logDir, q.jobId)
    const budget = perStreamBudget(q.maxBytes, ranks.length)
    const logs: RankLog[] = []
    for (const r of ranks) {
      const l = await rankLog(logDir, q.jobId, r, budget, q)
      if (l !== undefined) logs.push(l)
    }
    if (logs.length === 0) {
      const what = q.rank !== undefined ? `rank ${q.rank} of job ${q.jobId}` : `job ${q.jobId}`
      throw new NotFoundError(`no logs for ${what} on this node`, { data: { jobId: q.jobId, ...(q.rank !== undefined ? { rank: q.rank } : {}) } })
    }
    return { logs }
  }
}
