import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from '@mvm/core'
import { isHash } from './digest.js'

/**
 * Who may read what of a store. Content ids are not secrets (a job result names them, and the
 * same bytes have the same id everywhere), so a server that holds several users' files asks
 * before it serves one. The data layer only asks; the rules (a job's owner, an admin) are the
 * super-peer's, which knows the jobs.
 */
export interface DataReader {
  /** Whether this caller may read (or remove) file `id`; false answers 403 E_FORBIDDEN. */
  mayRead: (id: string) => boolean
  /** Told after this caller stored file `id` (its uploads are its own from then on). */
  stored: (id: string) => void
}

/** Whether a peer (its Noise-authenticated id) may fetch from this node over /mvm/data. */
export type PeerFilter = (peerId: string) => boolean | Promise<boolean>

/**
 * Which signed-in users uploaded each file: one JSON line `{"id","user"}` per upload, appended;
 * read whole at open, when the lines of files no longer stored are dropped. Kept apart from pins
 * so that owning a file does not keep it from eviction.
 */
export interface OwnerIndex {
  add: (id: string, user: string) => void
  has: (id: string, user: string) => boolean
}

/** Opens (or creates) the index at `file`; `stored` says which ids are still worth keeping. */
export function openOwnerIndex (file: string, stored: (id: string) => boolean, log: Logger): OwnerIndex {
  const owners = new Map<string, Set<string>>()
  let text = ''
  try { text = readFileSync(file, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file, err: (err as Error).message }, 'data owners index unreadable; starting empty')
  }
  let dropped = 0
  for (const line of text.split('\n')) {
    if (line === '') continue
    try {
      const e = JSON.parse(line) as { id?: unknown, user?: unknown }
      if (typeof e.id !== 'string' || !isHash(e.id) || typeof e.user !== 'string' || e.user === '') { dropped++; continue }
      if (!stored(e.id)) { dropped++; continue }
      let s = owners.get(e.id)
      if (s === undefined) owners.set(e.id, s = new Set())
      s.add(e.user)
    } catch { dropped++ }
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  if (dropped > 0) {
    // rewritten whole and renamed: a crash leaves the old file or the new one
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, [...owners].flatMap(([id, us]) => [...us].map((user) => JSON.stringify({ id, user }) + '\n')).join(''), { mode: 0o600 })
    renameSync(tmp, file)
  }
  return {
    add (id, user) {
      let s = owners.get(id)
      if (s?.has(user) === true) return
      if (s === undefined) owners.set(id, s = new Set())
      s.add(user)
      try { appendFileSync(file, JSON.stringify({ id, user }) + '\n', { mode: 0o600 }) } catch (err) { log.error({ file, err: (err as Error).message }, 'data owners index: write failed') }
    },
    has: (id, user) => owners.get(id)?.has(user) === true
  }
}
