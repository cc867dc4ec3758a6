import { lpStream } from '@libp2p/utils'
import { ErrorCode, ForbiddenError, MvmError, UnauthenticatedError, UnavailableError, toMvmError, type Logger } from '@mvm/core'
import type { AuthInput, Caller } from '@mvm/soap'
import type { StreamAccess } from './streams.js'

/**
 * Credentials sent to a peer are checked by its super-peer. Why not at the peer: the users file
 * holds each user's digest key, which is as good as the password for calling any node; copying
 * it to every peer would let one compromised peer act as every user everywhere. So a peer
 * forwards what the caller sent (the parsed WS-Security header, the HTTP `Authorization`) over
 * its Noise-authenticated connection, and the super-peer answers with the user, having checked
 * the credentials (one replay cache for the whole group: a nonce spent at one node is spent at
 * all) and the operation's permission under the policy in force. A peer learns no secret.
 */
export const AUTH_PROTOCOL = '/mvm/auth/1.0.0'

/** A question is a parsed header and a few names: far below this. */
const MAX_FRAME_BYTES = 64 * 1024
const CALLER_METHODS = new Set<Caller['method']>(['none', 'username-token', 'bearer'])

interface AuthAsk {
  service: string
  operation: string
  /** The caller's address as the peer saw it (for the super-peer's log). */
  from: string
  authorization?: string
  /** The SOAP Header's `Security` element as node-soap parsed it. */
  security?: unknown
}
type AuthAnswer = { user?: string, method: Caller['method'] } | { code: string, message: string }
/** The other question a member asks: is this peer one of us (may it fetch my data)? */
interface MemberAsk { member: string }
interface MemberAnswer { member: boolean }

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** True when the call carries any credentials (then they are checked, even where none are required). */
export function isSigned (input: Pick<AuthInput, 'authorization' | 'header'>): boolean {
  return (input.authorization ?? '').trim() !== '' || (input.header as { Security?: unknown } | undefined)?.Security !== undefined
}

function parseAsk (bytes: Uint8Array): AuthAsk | MemberAsk {
  const v = JSON.parse(dec.decode(bytes)) as Partial<AuthAsk & MemberAsk> | null
  if (typeof v === 'object' && v !== null && typeof v.member === 'string') return { member: v.member }
  if (typeof v !== 'object' || v === null || typeof v.service !== 'string' || typeof v.operation !== 'string') throw new Error('expected { service, operation, … }')
  const out: AuthAsk = { service: v.service, operation: v.operation, from: typeof v.from === 'string' ? v.from.slice(0, 200) : '' }
  if (typeof v.authorization === 'string') out.authorization = v.authorization
  if (v.security !== undefined) out.security = v.security
  return out
}

export interface AuthServiceInit {
  streams: StreamAccess
  /** Whether the Noise-authenticated peer is an admitted member of this super-peer's group. */
  isMember: (peerId: string) => boolean
  /** The super-peer's own check of a call: its authenticator, then its operation's access rule. */
  check: (input: AuthInput) => Caller
  log: Logger
}

/** The super-peer's side: answers its members' questions about credentials sent to them. */
export async function serveAuth (init: AuthServiceInit): Promise<() => Promise<void>> {
  await init.streams.handle(AUTH_PROTOCOL, (stream, remotePeer) => {
    void (async () => {
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      const signal = AbortSignal.timeout(10_000)
      let answer: AuthAnswer | MemberAnswer
      try {
        const ask = parseAsk((await lp.read({ signal })).subarray())
        if (!init.isMember(remotePeer)) {
          init.log.warn({ peer: remotePeer, ask: 'member' in ask ? 'member' : `${ask.service}.${ask.operation}` }, 'a node that is not a member asked; refused')
          answer = { code: ErrorCode.FORBIDDEN, message: 'only members of this group may ask their super-peer' }
        } else if ('member' in ask) {
          answer = { member: init.isMember(ask.member) }
        } else {
          const caller = init.check({
            header: ask.security === undefined ? undefined : { Security: ask.security },
            authorization: ask.authorization,
            remoteAddress: `${ask.from} via ${remotePeer}`,
            service: ask.service,
            operation: ask.operation
          })
          answer = caller.user === undefined ? { method: caller.method } : { user: caller.user, method: caller.method }
        }
      } catch (err) {
        const e = toMvmError(err)
        answer = e.code === ErrorCode.INTERNAL ? { code: ErrorCode.BAD_REQUEST, message: `credentials check: ${e.message}` } : { code: e.code, message: e.message }
      }
      try {
        await lp.write(enc.encode(JSON.stringify(answer)), { signal })
        await stream.close({ signal })
      } catch (err) { stream.abort(toMvmError(err)) }
    })()
  })
  return async () => { await init.streams.unhandle(AUTH_PROTOCOL).catch(() => {}) }
}

export interface RemoteAuthInit {
  streams: StreamAccess
  /** The super-peer this node joined, while joined. */
  superPeer: () => string | undefined
  /** Whether unsigned calls are refused (the node's policy in force). */
  required: () => boolean
  timeoutMs?: number
  log: Logger
}

/** The peer's side: unsigned calls are decided here, signed ones by the super-peer. */
export function remoteAuthenticator (init: RemoteAuthInit): (input: AuthInput) => Promise<Caller> {
  const timeoutMs = init.timeoutMs ?? 10_000
  return async (input) => {
    if (!isSigned(input)) {
      // as on a super-peer: clients find their broker through a bootstrap before they sign anything
      if (input.service === 'Bootstrap') return { method: 'none' }
      if (init.required()) throw new UnauthenticatedError('this node requires authentication: send a WS-Security UsernameToken or an Authorization: Bearer token')
      return { method: 'none' }
    }
    const sp = init.superPeer()
    if (sp === undefined) throw new UnavailableError('cannot check credentials now: this node is not joined to its super-peer; try again shortly', { retryable: true })
    const ask: AuthAsk = { service: input.service, operation: input.operation, from: input.remoteAddress }
    if (input.authorization !== undefined) ask.authorization = input.authorization
    const security = (input.header as { Security?: unknown } | undefined)?.Security
    if (security !== undefined) ask.security = security
    const bytes = enc.encode(JSON.stringify(ask))
    if (bytes.byteLength > MAX_FRAME_BYTES) throw new UnauthenticatedError(`the credentials sent are over ${MAX_FRAME_BYTES} bytes`)
    let answer: AuthAnswer
    const signal = AbortSignal.timeout(timeoutMs)
    try {
      const stream = await init.streams.dial(sp, [], AUTH_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(bytes, { signal })
      answer = JSON.parse(dec.decode((await lp.read({ signal })).subarray())) as AuthAnswer
      await stream.close({ signal }).catch(() => {})
    } catch (err) {
      init.log.warn({ superPeer: sp, op: `${input.service}.${input.operation}`, err: (err as Error).message }, 'credentials could not be checked with the super-peer')
      throw new UnavailableError(`cannot check credentials now: the super-peer did not answer (${(err as Error).message})`, { retryable: true, cause: err })
    }
    if ('code' in answer) {
      if (answer.code === ErrorCode.UNAUTHENTICATED) throw new UnauthenticatedError(answer.message)
      if (answer.code === ErrorCode.FORBIDDEN) throw new ForbiddenError(answer.message)
      throw new MvmError(/^E_[A-Z0-9_]+$/.test(answer.code) ? answer.code as ErrorCode : ErrorCode.INTERNAL, answer.message)
    }
    if (!CALLER_METHODS.has(answer.method)) throw new UnavailableError('the super-peer answered the credentials check with nonsense')
    return answer.user === undefined ? { method: answer.method } : { user: answer.user, method: answer.method }
  }
}

export interface MemberCheckInit {
  streams: StreamAccess
  superPeer: () => string | undefined
  log: Logger
  /** How long a yes is remembered (default 60 s); a no is asked again next time. */
  ttlMs?: number
}

/** A peer's question to its super-peer: is `peerId` an admitted member of our group? */
export function remoteMemberCheck (init: MemberCheckInit): (peerId: string) => Promise<boolean> {
  const ttl = init.ttlMs ?? 60_000
  const known = new Map<string, number>()
  return async (peerId) => {
    const now = Date.now()
    const until = known.get(peerId)
    if (until !== undefined && until > now) return true
    known.delete(peerId)
    const sp = init.superPeer()
    if (sp === undefined) return false
    const signal = AbortSignal.timeout(10_000)
    try {
      const stream = await init.streams.dial(sp, [], AUTH_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES })
      await lp.write(enc.encode(JSON.stringify({ member: peerId } satisfies MemberAsk)), { signal })
      const answer = JSON.parse(dec.decode((await lp.read({ signal })).subarray())) as Partial<MemberAnswer>
      await stream.close({ signal }).catch(() => {})
      if (answer.member !== true) return false
      if (known.size >= 10_000) known.clear()
      known.set(peerId, now + ttl)
      return true
    } catch (err) {
      init.log.warn({ superPeer: sp, peer: peerId, err: (err as Error).message }, 'could not ask the super-peer whether a peer is a member; refusing it for now')
      return false
    }
  }
}
