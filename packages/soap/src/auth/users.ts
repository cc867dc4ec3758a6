import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync, mkdirSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { BadRequestError, ConfigError, NotFoundError } from '@mvm/core'

/**
 * The users file a super-peer reads (`<dataDir>/users.json`): each user's scrypt-derived key
 * and each bearer token's SHA-256. Neither a password nor a token is ever written.
 *
 * Why the stored key is `scrypt(password, "mvm:" + user)` and not a salted verifier: a
 * WS-Security PasswordDigest is SHA-1(nonce + created + password), which the server can only
 * check holding what the client hashed. So clients send the derived key as the UsernameToken
 * password (the CLI derives it; `mvm user add` prints it for other clients). A stolen file
 * lets its holder call as those users (as with every digest scheme) but never reveals the
 * passwords themselves. Tokens are 256 random bits: a fast hash is enough for them.
 */
export const USERS_FILE = 'users.json'

export const SCRYPT = { N: 16384, r: 8, p: 1, keyLen: 32 } as const

export interface UserRecord { key: string, createdAt: string }
export interface TokenRecord { user: string, sha256: string, createdAt: string, expiresAt: string }
export interface UsersData {
  apiVersion: 'mvm/v1'
  kind: 'Users'
  users: Record<string, UserRecord>
  tokens: Record<string, TokenRecord>
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/

export function checkUserName (name: string): string {
  if (!NAME_RE.test(name)) throw new BadRequestError(`user name "${name}": expected 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit`)
  return name
}

/** The key a user's clients send as their UsernameToken password (hex). */
export function deriveKey (user: string, password: string): string {
  return scryptSync(password, `mvm:${user}`, SCRYPT.keyLen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 }).toString('hex')
}

export function sha256 (s: string): string {
  return createHash('sha256').update(s).digest('hex')
}

export function sameText (a: string, b: string): boolean {
  const x = Buffer.from(a); const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

export function emptyUsers (): UsersData {
  return { apiVersion: 'mvm/v1', kind: 'Users', users: {}, tokens: {} }
}

/** A token as handed out: `mvm_<id>_<secret>`; only the secret's hash is kept, under `id`. */
const TOKEN_RE = /^mvm_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/
export function parseToken (token: string): { id: string, secret: string } | undefined {
  const m = TOKEN_RE.exec(token)
  return m === null ? undefined : { id: m[1]!, secret: m[2]! }
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Parses a users file's text; the error names the file and the field that is wrong. */
export function parseUsers (text: string, file: string): UsersData {
  let raw: unknown
  try { raw = JSON.parse(text) } catch (err) { throw new ConfigError(`${file}: not JSON: ${(err as Error).message}`) }
  if (!isRecord(raw) || raw.kind !== 'Users') throw new ConfigError(`${file}: expected an object with kind: Users`)
  const out = emptyUsers()
  const users = raw.users ?? {}
  const tokens = raw.tokens ?? {}
  if (!isRecord(users)) throw new ConfigError(`${file}: users: expected an object`)
  if (!isRecord(tokens)) throw new ConfigError(`${file}: tokens: expected an object`)
  for (const [name, u] of Object.entries(users)) {
    if (!NAME_RE.test(name) || !isRecord(u) || typeof u.key !== 'string' || !/^[0-9a-f]{64}$/.test(u.key)) throw new ConfigError(`${file}: users.${name}: expected { key: 64 hex digits, createdAt }`)
    out.users[name] = { key: u.key, createdAt: String(u.createdAt ?? '') }
  }
  for (const [id, t] of Object.entries(tokens)) {
    if (!isRecord(t) || typeof t.user !== 'string' || typeof t.sha256 !== 'string' || typeof t.expiresAt !== 'string' || Number.isNaN(Date.parse(t.expiresAt))) {
      throw new ConfigError(`${file}: tokens.${id}: expected { user, sha256, expiresAt: ISO date }`)
    }
    out.tokens[id] = { user: t.user, sha256: t.sha256, createdAt: String(t.createdAt ?? ''), expiresAt: t.expiresAt }
  }
  return out
}

export function readUsers (file: string): UsersData {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyUsers()
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`)
  }
  return parseUsers(text, file)
}

/** Written whole to a temporary file and renamed: a reader never sees half a file. Owner-only. */
export function writeUsers (file: string, data: UsersData): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
  const tmp = `${file}.${process.pid}.tmp`
  writeFileSync(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 })
  renameSync(tmp, file)
}

export function addUser (data: UsersData, name: string, password: string, now = Date.now()): string {
  checkUserName(name)
  if (password.length < 8) throw new BadRequestError(`password for "${name}": at least 8 characters`)
  const key = deriveKey(name, password)
  data.users[name] = { key, createdAt: new Date(now).toISOString() }
  return key
}

/** Removes the user and every token issued to them. */
export function removeUser (data: UsersData, name: string): void {
  if (!Object.hasOwn(data.users, name)) throw new NotFoundError(`no user "${name}" in the users file`)
  delete data.users[name]
  for (const [id, t] of Object.entries(data.tokens)) if (t.user === name) delete data.tokens[id]
}

export function createToken (data: UsersData, user: string, ttlSec: number, now = Date.now()): { token: string, id: string, expiresAt: string } {
  if (!Object.hasOwn(data.users, user)) throw new NotFoundError(`no user "${user}" in the users file (add one with mvm user add)`)
  if (!Number.isFinite(ttlSec) || ttlSec <= 0) throw new BadRequestError(`token lifetime: expected a positive number of seconds, got ${ttlSec}`)
  const id = randomBytes(8).toString('hex')
  const secret = randomBytes(32).toString('base64url')
  const expiresAt = new Date(now + ttlSec * 1000).toISOString()
  // expired tokens are dropped whenever a new one is made, so the file does not grow for ever
  for (const [k, t] of Object.entries(data.tokens)) if (Date.parse(t.expiresAt) <= now) delete data.tokens[k]
  data.tokens[id] = { user, sha256: sha256(secret), createdAt: new Date(now).toISOString(), expiresAt }
  return { token: `mvm_${id}_${secret}`, id, expiresAt }
}

/**
 * The users file as a server reads it: re-read when it changes (so `mvm user add` and
 * `mvm token create` take effect at the next call), the last good copy kept when an edit breaks it.
 */
export function usersSource (file: string, onError: (err: unknown) => void = () => {}): () => UsersData {
  let stamp = ''
  let data = emptyUsers()
  return () => {
    let now = ''
    try { const s = statSync(file); now = `${s.mtimeMs}:${s.size}:${s.ino}` } catch { now = 'absent' }
    if (now !== stamp) {
      try { data = now === 'absent' ? emptyUsers() : readUsers(file); stamp = now } catch (err) { onError(err) }
    }
    return data
  }
}
