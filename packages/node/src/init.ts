import { resolve } from 'node:path'
import { ConfigError, type Logger } from '@mvm/core'
import type { AuthMode } from './admission.js'
import { ROLES, type Role } from './types.js'

/** Everything a node is started with; CLI flags and the NodeConfig/Policy files map onto it. */
export interface MvmNodeInit {
  /** Where the identity key (and later job state) lives. Required. */
  dataDir: string
  /** Default `['peer']`. */
  roles?: Role[]
  /** Default `['/ip4/127.0.0.1/tcp/0']`. */
  listen?: string[]
  /** Bootstrap SOAP URLs (`http://127.0.0.1:7700`) or a super-peer's multiaddr. */
  bootstrap?: string[]
  /** Default `default`. */
  group?: string
  /** For a super-peer: the group whose super-peer is its parent. */
  parentGroup?: string
  labels?: Record<string, string>
  capacity?: { slots?: number, memoryMB?: number }
  /** SOAP endpoint; port 0 (default) picks a free one. */
  soap?: {
    host?: string
    port?: number
    /** HTTPS: PEM files of the certificate (chain) and its key (`mvm cert` makes a self-signed pair). */
    tls?: { certFile: string, keyFile: string }
    /** Listen on a non-loopback address although callers are not authenticated (a deliberate choice). */
    allowInsecure?: boolean
  }
  /** A super-peer's heartbeat interval and tolerance (sent to members in JoinAck). */
  monitoring?: { heartbeatMs?: number, missedHeartbeats?: number }
  /** Admission (super-peer) and the domain key (member proof). */
  security?: {
    authentication?: AuthMode
    admittedPeers?: string[]
    domainKeyFile?: string
    /** SOAP callers of a super-peer: `required` refuses calls without valid credentials (users file `<dataDir>/users.json`). */
    clientAuthentication?: 'none' | 'required'
  }
  /** How long a bootstrap keeps a super-peer registration without renewal. Default 30 s. */
  bootstrapLeaseSec?: number
  logger?: Logger
}

export interface ResolvedInit {
  dataDir: string
  roles: Role[]
  listen: string[]
  bootstrap: string[]
  group: string
  parentGroup?: string
  labels: Record<string, string>
  capacity: { slots: number, memoryMB: number }
  soap: { host: string, port: number, tls?: { certFile: string, keyFile: string }, allowInsecure: boolean }
  monitoring: { heartbeatMs: number, missedHeartbeats: number }
  security: { authentication: AuthMode, admittedPeers: string[], domainKeyFile?: string, clientAuthentication: 'none' | 'required' }
  bootstrapLeaseSec: number
}

export const DEFAULTS = {
  listen: '/ip4/127.0.0.1/tcp/0',
  group: 'default',
  slots: 4,
  memoryMB: 2048,
  heartbeatMs: 2000,
  missedHeartbeats: 3,
  bootstrapLeaseSec: 30
} as const

/** 127.0.0.0/8, ::1 and localhost: only this host can reach a listener there. */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

function posInt (v: number | undefined, field: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt
  if (!Number.isInteger(v) || v < min) throw new ConfigError(`${field}: expected an integer >= ${min}, got ${String(v)}`)
  return v
}

/** Fills defaults and refuses contradictory or out-of-range settings, naming the field. */
export function resolveInit (i: MvmNodeInit): ResolvedInit {
  if (typeof i.dataDir !== 'string' || i.dataDir === '') throw new ConfigError('dataDir: required')
  const roles = [...new Set<string>(i.roles ?? ['peer'])] as Role[]
  if (roles.length === 0) throw new ConfigError('roles: give at least one of bootstrap, super-peer, peer')
  for (const r of roles) if (!ROLES.includes(r as Role)) throw new ConfigError(`roles: unknown role ${JSON.stringify(r)}; expected bootstrap, super-peer or peer`)
  const group = i.group ?? DEFAULTS.group
  if (group === '') throw new ConfigError('group: must not be empty')
  if (i.parentGroup !== undefined && !roles.includes('super-peer')) throw new ConfigError('parentGroup: only a super-peer has a parent group')
  if (i.parentGroup === group) throw new ConfigError(`parentGroup: must differ from group (${group})`)
  const bootstrap = i.bootstrap ?? []
  const needsBootstrap = (roles.includes('peer') && !roles.includes('super-peer')) || i.parentGroup !== undefined
  if (needsBootstrap && bootstrap.length === 0 && !roles.includes('bootstrap')) {
    throw new ConfigError('bootstrap: a peer (or a super-peer with a parent group) needs a bootstrap address, e.g. --bootstrap http://127.0.0.1:7700')
  }
  const auth = i.security?.authentication ?? 'none'
  if (auth === 'peer-list' && (i.security?.admittedPeers ?? []).length === 0) throw new ConfigError('security.admittedPeers: required (non-empty) when authentication is peer-list')
  if (auth === 'domain-key' && i.security?.domainKeyFile === undefined) throw new ConfigError('security.domainKeyFile: required when authentication is domain-key')
  const port = i.soap?.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`soap.port: expected 0..65535, got ${String(port)}`)
  const out: ResolvedInit = {
    // a relative dir would reach the sandboxes (which refuse it) and move with the cwd
    dataDir: resolve(i.dataDir),
    roles,
    listen: i.listen !== undefined && i.listen.length > 0 ? i.listen : [DEFAULTS.listen],
    bootstrap,
    group,
    labels: { ...(i.labels ?? {}) },
    capacity: { slots: posInt(i.capacity?.slots, 'capacity.slots', DEFAULTS.slots), memoryMB: posInt(i.capacity?.memoryMB, 'capacity.memoryMB', DEFAULTS.memoryMB) },
    soap: { host: i.soap?.host ?? '127.0.0.1', port, allowInsecure: i.soap?.allowInsecure === true },
    monitoring: {
      heartbeatMs: posInt(i.monitoring?.heartbeatMs, 'monitoring.heartbeatMs', DEFAULTS.heartbeatMs, 10),
      missedHeartbeats: posInt(i.monitoring?.missedHeartbeats, 'monitoring.missedHeartbeats', DEFAULTS.missedHeartbeats)
    },
    security: { authentication: auth, admittedPeers: i.security?.admittedPeers ?? [], clientAuthentication: i.security?.clientAuthentication ?? 'none' },
    bootstrapLeaseSec: posInt(i.bootstrapLeaseSec, 'bootstrapLeaseSec', DEFAULTS.bootstrapLeaseSec)
  }
  if (i.soap?.tls !== undefined) out.soap.tls = { certFile: resolve(i.soap.tls.certFile), keyFile: resolve(i.soap.tls.keyFile) }
  const authenticated = roles.includes('super-peer') && out.security.clientAuthentication === 'required'
  if (!isLoopback(out.soap.host) && !authenticated && !out.soap.allowInsecure) {
    throw new ConfigError(`soap.host ${out.soap.host} is not a loopback address, and SOAP callers of this node are not authenticated: anyone who reaches it could act as anyone. ` +
      'Give the super-peer a policy with security.clientAuthentication: required (and a certificate: --tls-cert/--tls-key), or pass --allow-insecure to listen anyway')
  }
  if (i.parentGroup !== undefined) out.parentGroup = i.parentGroup
  if (i.security?.domainKeyFile !== undefined) out.security.domainKeyFile = resolve(i.security.domainKeyFile)
  return out
}
