import { BadRequestError, InvalidStateError } from '@mvm/core'
import type { JobStore } from './store.js'
import { parseBoundedJson } from './json-bounds.js'

/** Largest checkpoint state kept (UTF-8 bytes of its JSON); matches the control protocol's bound. */
export const MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024

/**
 * Validates and stores one rank's checkpoint. Bad input (unknown job, array job, rank out of
 * range, oversize or non-JSON state) throws; a stale save (job not dispatched, sender not the
 * rank's node, older than what is stored) returns false, since late messages from an attempt
 * that was given up are normal after a node failure.
 */
export function saveCheckpoint (store: JobStore, jobId: string, rank: number, stateJson: string, options: { seq?: number, peerId?: string } = {}): boolean {
  const job = store.mustGet(jobId)
  const where = `saveCheckpoint(${jobId}, rank ${String(rank)})`
  if (job.childIds !== undefined) throw new InvalidStateError(`${where}: ${jobId} is an array job; its children checkpoint`)
  if (!Number.isInteger(rank) || rank < 0 || rank >= job.size) throw new BadRequestError(`${where}: rank must be an integer from 0 to ${job.size - 1}`)
  if (typeof stateJson !== 'string') throw new BadRequestError(`${where}: state must be JSON text`)
  const bytes = Buffer.byteLength(stateJson, 'utf8')
  if (bytes > MAX_CHECKPOINT_BYTES) throw new BadRequestError(`${where}: state of ${bytes} bytes is over the ${MAX_CHECKPOINT_BYTES}-byte limit`, { data: { size: bytes, limit: MAX_CHECKPOINT_BYTES } })
  parseBoundedJson(stateJson, `${where}: state`)
  const seq = options.seq ?? 0
  if (!Number.isSafeInteger(seq) || seq < 0) throw new BadRequestError(`${where}: seq must be an integer >= 0 (got ${String(seq)})`)
  if (job.state !== 'scheduled' && job.state !== 'running') return false
  if (options.peerId !== undefined && job.placement?.[rank] !== options.peerId) return false
  const cut = cutNumber(stateJson)
  if (cut !== undefined) return store.putCut(jobId, job.size, { rank, attempt: job.restarts, cut, stateJson, peerId: options.peerId ?? null })
  return store.putCheckpoint(jobId, { rank, attempt: job.restarts, seq, stateJson, peerId: options.peerId ?? null })
}

/** The cut number of a coordinated checkpoint's envelope (`{ "$mvmCut": n, ... }`), else undefined. */
function cutNumber (stateJson: string): number | undefined {
  if (!stateJson.startsWith('{"$mvmCut":')) return undefined
  const n = (JSON.parse(stateJson) as { $mvmCut?: unknown }).$mvmCut
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : undefined
}
