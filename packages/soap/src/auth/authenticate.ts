import { createHash } from 'node:crypto'
import { UnauthenticatedError, UnavailableError } from '@mvm/core'
import type { Caller } from '../types.js'
import { deriveKey, parseToken, sameText, sha256, type UsersData } from './users.js'

/** What a request offers as proof: its parsed SOAP Header and its HTTP `Authorization` header. */
export interface AuthInput {
  /** The envelope's Header as node-soap parsed it (namespace prefixes dropped). */
  header: unknown
  authorization?: string | undefined
  remoteAddress: string
  service: string
  operation: string
}

/** Answers who the caller is; throws UnauthenticatedError for wrong or missing-but-required credentials. */
export type Authenticate = (input: AuthInput) => Caller

/** The same, for a server that asks elsewhere (a peer asks its super-peer). */
export type AuthenticateAsync = (input: AuthInput) => Caller | Promise<Caller>

export interface AuthenticatorInit {
  users: () => UsersData
  /** Read at every call: a policy change turns it on or off without a restart. */
  required: () => boolean
  /** How far `Created` may be from the server's clock, and how long a nonce is remembered (default 300 s). */
  windowSec?: number
  /** Most nonces remembered at once; beyond it new digests are refused until old ones age out. */
  maxNonces?: number
  now?: () => number
  /** Told the real reason of every refusal (the fault says less, so it does not help guessing). */
  onRefused?: (reason: string, input: AuthInput, user?: string) => void
}

const DIGEST = '#PasswordDigest'
const GENERIC = 'unknown user or wrong password'

interface UsernameToken { username: string, password: string, digest: boolean, nonce?: string, created?: string }

function text (v: unknown): string | undefined {
  if (typeof v === 'string') return v
  if (typeof v === 'object' && v !== null && typeof (v as { $value?: unknown }).$value === 'string') return (v as { $value: string }).$value
  return undefined
}

/** node-soap keeps attributes under a key that varies with the prefix: look at every value. */
function hasAttrValue (v: unknown, suffix: string): boolean {
  if (typeof v !== 'object' || v === null) return false
  return Object.entries(v).some(([k, x]) => k !== '$value' && typeof x === 'object' && x !== null &&
    Object.values(x).some((a) => typeof a === 'string' && a.endsWith(suffix)))
}

function usernameToken (header: unknown): UsernameToken | undefined {
  const sec = (header as { Security?: unknown } | undefined)?.Security
  const tok = (sec as { UsernameToken?: unknown } | undefined)?.UsernameToken
  if (typeof tok !== 'object' || tok === null) return undefined
  const t = tok as Record<string, unknown>
  const username = text(t.Username)
  const password = text(t.Password)
  if (username === undefined || password === undefined) return undefined
  const out: UsernameToken = { username: username.trim(), password: password.trim(), digest: hasAttrValue(t.Password, DIGEST) }
  const nonce = text(t.Nonce); if (nonce !== undefined) out.nonce = nonce.trim()
  const created = text(t.Created); if (created !== undefined) out.created = created.trim()
  return out
}

/**
 * WS-Security UsernameToken (PasswordDigest with Nonce and Created inside a replay window, or
 * PasswordText) and `Authorization: Bearer` tokens, checked against the users file.
 */
export function createAuthenticator (init: AuthenticatorInit): Authenticate {
  const windowMs = (init.windowSec ?? 300) * 1000
  const maxNonces = init.maxNonces ?? 100_000
  const now = init.now ?? Date.now
  // key: user + nonce; value: when it may be forgotten (arrival + 2 windows: always after Created leaves the window)
  const nonces = new Map<string, number>()
  // successful PasswordText derivations (scrypt costs ~50 ms), by hash of user and password
  const derived = new Map<string, string>()

  const refuse = (reason: string, input: AuthInput, user?: string, shown = GENERIC): never => {
    init.onRefused?.(reason, input, user)
    throw new UnauthenticatedError(shown, { data: user === undefined ? {} : { user } })
  }

  const prune = (t: number): void => {
    // insertion order is expiry order: stop at the first that is still live
    for (const [k, exp] of nonces) { if (exp > t) break; nonces.delete(k) }
  }

  const viaToken = (token: string, input: AuthInput): Caller => {
    const p = parseToken(token)
    if (p === undefined) return refuse('malformed bearer token', input, undefined, 'invalid or expired token')
    const data = init.users()
    const rec = Object.hasOwn(data.tokens, p.id) ? data.tokens[p.id] : undefined
    if (rec === undefined || !sameText(rec.sha256, sha256(p.secret))) return refuse(`unknown token ${p.id}`, input, undefined, 'invalid or expired token')
    if (Date.parse(rec.expiresAt) <= now()) return refuse(`token ${p.id} expired at ${rec.expiresAt}`, input, rec.user, `token expired at ${rec.expiresAt}`)
    if (!Object.hasOwn(data.users, rec.user)) return refuse(`token ${p.id}: user ${rec.user} was removed`, input, rec.user, 'invalid or expired token')
    return { user: rec.user, method: 'bearer' }
  }

  const viaUsernameToken = (t: UsernameToken, input: AuthInput): Caller => {
    const users = init.users().users
    const rec = Object.hasOwn(users, t.username) ? users[t.username] : undefined
    if (!t.digest) {
      if (rec === undefined) return refuse(`unknown user "${t.username}"`, input, t.username)
      const memoKey = sha256(`${t.username}\0${t.password}`)
      const key = derived.get(memoKey) ?? deriveKey(t.username, t.password)
      // a client may send the derived key itself as its text password, as digest clients do
      if (!sameText(key, rec.key) && !sameText(t.password, rec.key)) return refuse(`wrong password for "${t.username}"`, input, t.username)
      if (derived.size >= 1000) derived.clear()
      derived.set(memoKey, key)
      return { user: t.username, method: 'username-token' }
    }
    if (t.nonce === undefined || t.created === undefined) return refuse('PasswordDigest without Nonce and Created', input, t.username, 'PasswordDigest needs a Nonce and a Created time')
    const created = Date.parse(t.created)
    const at = now()
    if (Number.isNaN(created)) return refuse(`Created "${t.created}" is not a date`, input, t.username, `Created "${t.created}" is not an xs:dateTime`)
    if (Math.abs(at - created) > windowMs) {
      return refuse(`Created ${t.created} outside the ${windowMs / 1000} s window`, input, t.username, `Created ${t.created} is more than ${windowMs / 1000} s from the server's clock`)
    }
    const nonce = Buffer.from(t.nonce, 'base64')
    if (nonce.length < 8 || nonce.length > 128) return refuse('nonce length', input, t.username, 'Nonce must be 8..128 bytes, base64')
    if (rec === undefined) return refuse(`unknown user "${t.username}"`, input, t.username)
    const expect = createHash('sha1').update(nonce).update(t.created).update(rec.key).digest('base64')
    if (!sameText(expect, t.password)) return refuse(`wrong password digest for "${t.username}"`, input, t.username)
    prune(at)
    const nk = `${t.username}\0${t.nonce}`
    if (nonces.has(nk)) return refuse(`replayed nonce for "${t.username}"`, input, t.username, 'nonce already used (replay refused)')
    if (nonces.size >= maxNonces) throw new UnavailableError('too many recent logins to track their nonces; try again shortly')
    nonces.set(nk, at + 2 * windowMs)
    return { user: t.username, method: 'username-token' }
  }

  return (input) => {
    const auth = input.authorization?.trim()
    if (auth !== undefined && auth !== '') {
      const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth)
      if (basic !== null) {
        // HTTP Basic (browsers ask for it on the web view): the password is checked as PasswordText is
        const text = Buffer.from(basic[1]!, 'base64').toString('utf8')
        const colon = text.indexOf(':')
        if (colon <= 0) return refuse('malformed Basic credentials', input)
        return viaUsernameToken({ username: text.slice(0, colon), password: text.slice(colon + 1), digest: false }, input)
      }
      const m = /^Bearer\s+(\S+)$/i.exec(auth)
      if (m === null) return refuse('Authorization header is neither Bearer nor Basic', input, undefined, 'the Authorization header must be "Bearer <token>" or "Basic …"')
      return viaToken(m[1]!, input)
    }
    const t = usernameToken(input.header)
    if (t !== undefined) return viaUsernameToken(t, input)
    if (init.required()) return refuse('no credentials', input, undefined, 'this node requires authentication: send a WS-Security UsernameToken or an Authorization: Bearer token')
    return { method: 'none' }
  }
}
