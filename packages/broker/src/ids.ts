import { randomBytes } from 'node:crypto'
import { BadRequestError, NotFoundError } from '@mvm/core'

/** Where the random part of an id starts (1-based, as SQLite's substr counts): after `j-<time36>-`. */
export const RAND_AT = 13

/**
 * `j-<time36>-<rand>`: the time part is fixed-width so ids sort by creation time as strings;
 * 40 random bits make collisions within one millisecond vanishingly rare (the store's primary
 * key catches the rest).
 */
export function newJobId (now: number): string {
  const time = Math.max(0, Math.floor(now)).toString(36).padStart(9, '0')
  const rand = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0')
  return `j-${time}-${rand}`
}

/** The fewest characters a prefix must have: shorter ones match half the store. */
export const MIN_PREFIX = 3
const SHOWN = 10

/**
 * A job id, or a unique prefix of one (as git and docker take them): `exact` says whether `id`
 * itself is a job, `matching` lists ids starting with it (up to SHOWN + 1, to tell "more").
 */
export function resolveJobId (id: string, exact: (id: string) => boolean, matching: (prefix: string, limit: number) => string[]): string {
  if (exact(id)) return id
  const notFound = new NotFoundError(`no job ${JSON.stringify(id)}`, { data: { jobId: id } })
  if (id.length < MIN_PREFIX) throw notFound
  const ids = matching(id, SHOWN + 1)
  if (ids.length === 1) return ids[0]!
  if (ids.length === 0) throw notFound
  const listed = ids.slice(0, SHOWN).join(', ') + (ids.length > SHOWN ? ', …' : '')
  throw new BadRequestError(`job id "${id}" is ambiguous: ${ids.length > SHOWN ? `more than ${SHOWN}` : ids.length} jobs start with it (${listed}); give more of it`, { data: { jobId: id, candidates: ids.slice(0, SHOWN) } })
}
