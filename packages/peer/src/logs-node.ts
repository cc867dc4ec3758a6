import { constants } from 'node:fs'
import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { NotFoundError } from '@mvm/core'
import type { Handler, GetLogsRequest, GetLogsResponse, RankLog } from '@mvm/soap'
import { checkLogsRequest, perStreamBudget, xmlSafe } from '@mvm/soap'

/** Where a peer's runtime keeps rank logs (`<dataDir>/runtime/logs/<jobId>.r<rank>.out|.err`, see PeerAgent). */
export function runtimeLogDir (dataDir: string): string {
  return join(dataDir, 'runtime', 'logs')
}

export interface LogTail { text: string, truncated: boolean }

/**
 * The last `maxBytes` bytes of a log file, or undefined when there is none. A symlink or
 * anything but a regular file is refused: a log folder is ours, a link in it is not.
 */
export async function readTail (file: string, maxBytes: number): Promise<LogTail | undefined> {
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
    const start = Math.max(0, st.size - maxBytes)
    const buf = Buffer.alloc(st.size - start)
    const { bytesRead } = await fh.read(buf, 0, buf.length, start)
    let bytes = buf.subarray(0, bytesRead)
    // a cut inside a UTF-8 sequence would decode as garbage: start at the next character
    if (start > 0) { let i = 0; while (i < 3 && i < bytes.length && (bytes[i]! & 0xc0) === 0x80) i++; bytes = bytes.subarray(i) }
    return { text: xmlSafe(bytes.toString('utf8')), truncated: start > 0 }
  } finally {
    await fh.close()
  }
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
export async function rankLog (logDir: string, jobId: string, rank: number, maxBytes: number): Promise<RankLog | undefined> {
  const base = join(logDir, `${jobId}.r${rank}`)
  const [out, err] = await Promise.all([readTail(base + '.out', maxBytes), readTail(base + '.err', maxBytes)])
  if (out === undefined && err === undefined) return undefined
  return { rank, stdout: out?.text ?? '', stderr: err?.text ?? '', truncated: out?.truncated === true || err?.truncated === true }
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
      const l = await rankLog(logDir, q.jobId, r, budget)
      if (l !== undefined) logs.push(l)
    }
    if (logs.length === 0) {
      const what = q.rank !== undefined ? `rank ${q.rank} of job ${q.jobId}` : `job ${q.jobId}`
      throw new NotFoundError(`no logs for ${what} on this node`, { data: { jobId: q.jobId, ...(q.rank !== undefined ? { rank: q.rank } : {}) } })
    }
    return { logs }
  }
}
