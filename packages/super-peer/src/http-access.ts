import type { IncomingMessage, ServerResponse } from 'node:http'
import { MvmError, toMvmError } from '@mvm/core'
import type { EffectivePolicy } from '@mvm/model'
import type { Authenticate } from '@mvm/soap'
import type { AuditLog } from './audit.js'
import { authorize, type Permission } from './policy-auth.js'

/**
 * The super-peer's plain HTTP routes (`/data`, `/ui`) behind the same credentials and roles as
 * SOAP: `Authorization: Bearer <token>` or `Basic` (user and password; browsers prompt for it).
 * Answers 401 or 403 itself and returns undefined when the request may not go on, else who
 * called (`user` absent for an unsigned request, allowed while authentication is not required).
 */
export type HttpGuard = (req: IncomingMessage, res: ServerResponse, permission: Permission) => { user?: string } | undefined

export function httpGuard (authenticate: Authenticate | undefined, policy: () => EffectivePolicy, audit?: AuditLog): HttpGuard {
  return (req, res, permission) => {
    let who: string | undefined
    let how = 'claimed'
    try {
      const caller = authenticate?.({ header: undefined, authorization: req.headers.authorization, remoteAddress: req.socket.remoteAddress ?? '', service: 'HTTP', operation: `${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]!}` }) ?? { method: 'none' as const }
      // an unsigned request (allowed while authentication is not required) names no subject over
      // HTTP: it goes through as it always did; a signed one is held to its roles
      if (caller.user === undefined) return {}
      who = caller.user
      how = caller.method
      authorize(policy(), caller.user, permission)
      return { user: caller.user }
    } catch (err) {
      const e = toMvmError(err)
      audit?.record({ at: new Date().toISOString(), who: who ?? 'anonymous', how, what: `HTTP ${req.method ?? 'GET'} ${(req.url ?? '/').split('?')[0]!}`, from: req.socket.remoteAddress ?? '', result: e.code })
      const status = e instanceof MvmError && e.code === 'E_UNAUTHENTICATED' ? 401 : e.code === 'E_FORBIDDEN' ? 403 : 500
      if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="mvm", charset="UTF-8"')
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ code: e.code, message: e.message }))
      return undefined
    }
  }
}
