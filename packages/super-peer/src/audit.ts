import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { Logger } from '@mvm/core'
import type { SoapCallObservation } from '@mvm/soap'

/** The audit log sits with the job store: `<dataDir>/broker/audit.log`, one JSON object a line. */
export const AUDIT_FILE = join('broker', 'audit.log')

/** One audited action: who, what, when, from where, and how it ended (`ok` or an error code). */
export interface AuditEntry {
  at: string
  /** The signed-in user, else the identity the request named, else `anonymous`. */
  who: string
  /** How `who` was established: `username-token` (also HTTP Basic), `bearer`, or `claimed` (unsigned). */
  how: string
  what: string
  jobId?: string
  from: string
  result: string
}

/**
 * Operations that change something; reads (status, lists, results, waits) are not logged
 * unless refused, so polling clients do not drown the log.
 */
export const AUDITED = new Set([
  'Broker.SubmitJob', 'Broker.SubmitJobs', 'Broker.CancelJob', 'Broker.HoldJob', 'Broker.ReleaseJob', 'Broker.RequeueJob',
  'Broker.ApplyPolicy', 'Broker.PutData', 'Broker.RemoveData', 'Node.Awaken', 'Node.Terminate', 'Bootstrap.RegisterSuperPeer'
])
const REFUSED = new Set(['E_UNAUTHENTICATED', 'E_FORBIDDEN'])

export interface AuditLog {
  record: (e: AuditEntry) => void
  /** The SOAP observer: audited operations and every refused call. */
  observe: (c: SoapCallObservation) => void
  close: () => void
}

/**
 * Opened in append mode and owner-only: the toolkit only ever adds lines (no API edits or
 * trims it), each written whole with one write and synced, so a crash loses at most the line
 * being written.
 */
export function openAuditLog (dataDir: string, log: Logger): AuditLog {
  const file = join(dataDir, AUDIT_FILE)
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const fd = openSync(file, 'a', 0o600)
  let closed = false
  const record = (e: AuditEntry): void => {
    if (closed) return
    try {
      writeSync(fd, JSON.stringify(e) + '\n')
      fsyncSync(fd)
    } catch (err) { log.error({ err, file }, 'audit log write failed') }
  }
  return {
    record,
    observe: (c) => {
      const what = `${c.service}.${c.operation}`
      if (!AUDITED.has(what) && !REFUSED.has(c.result)) return
      const signed = c.caller?.user
      record({
        at: new Date().toISOString(),
        who: signed ?? c.subject ?? 'anonymous',
        how: signed !== undefined ? c.caller!.method : 'claimed',
        what,
        ...(c.jobId !== undefined ? { jobId: c.jobId } : {}),
        from: c.remoteAddress,
        result: c.result
      })
    },
    close: () => { if (!closed) { closed = true; closeSync(fd) } }
  }
}

/** The entries of an audit log file, oldest first; a torn last line (a crash mid-write) is skipped. */
export function readAuditLog (file: string): AuditEntry[] {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: AuditEntry[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    try { out.push(JSON.parse(line) as AuditEntry) } catch { /* torn line */ }
  }
  return out
}
