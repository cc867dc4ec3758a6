import { BadRequestError } from '@mvm/core'
import type { GetLogsRequest } from './types.js'

/** Per stream and rank: the default tail, the most one may ask for, and the bound on one reply. */
export const LOG_LIMITS = {
  defaultBytes: 64 * 1024,
  maxBytes: 1024 * 1024,
  replyBytes: 32 * 1024 * 1024
} as const

/** The runtime's own rule for job ids: a log path built from one can never leave the log folder. */
const JOB_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/

export interface LogsQuery { jobId: string, rank?: number, maxBytes: number, outOffset?: number, errOffset?: number }

/** Checks a GetLogs/GetJobLogs request before anything touches a file; `where` names the operation. */
export function checkLogsRequest (req: GetLogsRequest, where: string): LogsQuery {
  const { jobId, rank, maxBytes } = req
  if (typeof jobId !== 'string' || !JOB_ID_RE.test(jobId)) {
    throw new BadRequestError(`${where}: jobId ${JSON.stringify(jobId)} is not a job id (1-101 letters, digits, '.', '_' or '-', starting with a letter or digit)`)
  }
  if (rank !== undefined && (!Number.isSafeInteger(rank) || rank < 0)) {
    throw new BadRequestError(`${where}: rank ${String(rank)} must be an integer >= 0`)
  }
  const bytes = maxBytes ?? LOG_LIMITS.defaultBytes
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > LOG_LIMITS.maxBytes) {
    throw new BadRequestError(`${where}: maxBytes ${String(maxBytes)} must be an integer from 0 to ${LOG_LIMITS.maxBytes}`)
  }
  const q: LogsQuery = rank === undefined ? { jobId, maxBytes: bytes } : { jobId, rank, maxBytes: bytes }
  for (const f of ['outOffset', 'errOffset'] as const) {
    const v = req[f]
    if (v === undefined) continue
    if (!Number.isSafeInteger(v) || v < 0) throw new BadRequestError(`${where}: ${f} ${String(v)} must be an integer >= 0 (a byte offset from outEnd/errEnd of an earlier reply)`)
    // a cursor belongs to one rank's files: offsets for "every rank" would mean nothing
    if (rank === undefined) throw new BadRequestError(`${where}: ${f} needs rank: a cursor follows one rank's stream`)
    q[f] = v
  }
  return q
}

/** Bytes per stream when `ranks` ranks answer at once: never more than asked, the whole reply bounded. */
export function perStreamBudget (maxBytes: number, ranks: number): number {
  return Math.min(maxBytes, Math.floor(LOG_LIMITS.replyBytes / (2 * Math.max(1, ranks))))
}

// XML 1.0 cannot carry C0 controls other than tab/LF/CR, nor U+FFFE/U+FFFF; lone surrogates
// cannot be encoded. Programs print such things (ANSI colours, binary): show them, do not fail.
const XML_BAD_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Log text made safe for a SOAP reply: controls become their Unicode pictures (ESC → ␛), the rest U+FFFD. */
export function xmlSafe (text: string): string {
  return text.replace(XML_BAD_RE, (c) => {
    const code = c.charCodeAt(0)
    return code < 0x20 ? String.fromCharCode(0x2400 + code) : '\uFFFD'
  })
}
