import { join } from 'node:path'
import { ForbiddenError, type Logger } from '@mvm/core'
import type { Broker } from '@mvm/broker'
import { openOwnerIndex, type DataReader, type DataStore } from '@mvm/data'
import type { EffectivePolicy } from '@mvm/model'
import { ANONYMOUS, authorize } from './policy-auth.js'

/** Who uploaded what, beside the store (`<dataDir>/data/owners.jsonl`). */
export const DATA_OWNERS_FILE = join('data', 'owners.jsonl')

/** Pins that tie a file to a job: its inputs while it may run, its outputs until removed. */
const JOB_PIN = /^(?:job|output):(.+)$/

/**
 * Tenants apart in the super-peer's store. A signed-in user reads (and removes) a file only if
 * it is an input or output of one of their jobs, or they uploaded it, unless their roles grant
 * `job.read.any`; the same holds for naming a file or another job's output as an input, so a
 * content id learnt elsewhere opens nothing. Unsigned callers (allowed only while authentication
 * is not required) are not tenants and are not checked, as for jobs.
 */
export interface DataAccess {
  mayRead: (user: string, id: string) => boolean
  /** @throws ForbiddenError naming the file and what was refused */
  checkRead: (user: string, id: string, what: string) => void
  /** Taking job `jobId`'s outputs as inputs. @throws ForbiddenError */
  checkJob: (user: string, jobId: string, what: string) => void
  recordUpload: (user: string, id: string) => void
  /** The HTTP /data routes' view of one signed-in caller. */
  readerFor: (user: string) => DataReader
}

export interface DataAccessInit {
  store: DataStore
  broker: Pick<Broker, 'get'>
  policy: () => EffectivePolicy
  dataDir: string
  log: Logger
}

export function createDataAccess (init: DataAccessInit): DataAccess {
  const { store, broker } = init
  const owners = openOwnerIndex(join(init.dataDir, DATA_OWNERS_FILE), (id) => store.get(id) !== undefined, init.log)
  const readsAny = (user: string): boolean => {
    try { authorize(init.policy(), user, 'job.read.any'); return true } catch { return false }
  }
  const ownerOf = (jobId: string): string | undefined => {
    try { return broker.get(jobId).owner ?? ANONYMOUS } catch { return undefined }
  }
  const mayRead = (user: string, id: string): boolean => {
    if (owners.has(id, user) || readsAny(user)) return true
    for (const pin of store.get(id)?.pins ?? []) {
      const m = JOB_PIN.exec(pin)
      if (m !== null && ownerOf(m[1]!) === user) return true
    }
    return false
  }
  const checkRead = (user: string, id: string, what: string): void => {
    if (!mayRead(user, id)) throw new ForbiddenError(`${what}: file ${id} is not "${user}"'s: it belongs to no job of theirs and they did not upload it (reading it needs job.read.any)`, { data: { subject: user, id } })
  }
  return {
    mayRead,
    checkRead,
    checkJob (user, jobId, what) {
      const owner = ownerOf(jobId)
      if (owner === undefined || owner === user || readsAny(user)) return
      throw new ForbiddenError(`${what}: job ${jobId} is "${owner}"'s; taking its outputs needs job.read.any`, { data: { subject: user, jobId } })
    },
    recordUpload: (user, id) => { owners.add(id, user) },
    readerFor: (user) => ({ mayRead: (id) => mayRead(user, id), stored: (id) => { owners.add(id, user) } })
  }
}
