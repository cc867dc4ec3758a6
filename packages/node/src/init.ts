import { randomUUID } from 'node:crypto'
import { resolve } from 'node:path'
import { ConfigError, type Logger } from '@mvm/core'
import type { AuthMode } from './admission.js'
import type { ResourceSampler } from './monitor.js'
import { ROLES, type Role } from './types.js'

/** Everything a node is started with; CLI flags and the NodeConfig/Policy files map onto it. */
export interface MvmNodeInit {
  /** Where the identity key (and later job state) lives. Required. */
  dataDir: string
  /** Default `['peer']`. */
  roles?: Role[]
  /** Default `['/ip4/127.0.0.1/tcp/0']` (on the memory transport, `/memory/<random>`; on both, both). */
  listen?: string[]
  /**
   * `tcp` (default) or `memory`: in-process connections for a simulated community (`mvm sim`);
   * memory nodes reach only nodes in the same process. `memory+tcp`: both, for a super-peer of
   * a community split over several processes (`mvm sim --workers`), reached over TCP from the others.
   */
  transport?: 'tcp' | 'memory' | 'memory+tcp'
  /**
   * Run libp2p's Identify and Ping services and its connection monitor (default true). `mvm sim`
   * turns them off: every protocol handler registered pushes Identify to all connections, which
   * at thousands of nodes in one process costs more than everything else together; MVM's
   * protocols dial by address; the monitor pings every connection every 10 s and aborts one
   * whose ping is late, which in one loaded process cut thousands of control channels at once
   * (MVM's heartbeats detect a silent member).
   */
  identify?: boolean
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
  /**
   * A super-peer's heartbeat interval and tolerance (sent to members in JoinAck), and how many
   * child super-peers it admits (policy `monitoring.maxChildGroups`, default 16).
   */
  monitoring?: { heartbeatMs?: number, missedHeartbeats?: number, maxChildGroups?: number }
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
  /**
   * A super-peer that stands by: it follows the group's active broker (a copy of its job store)
   * and takes the group over when the active one stops answering. Until then the node is a plain
   * member of the group, shown with the role `standby-super-peer`, and runs no broker.
   */
  standby?: boolean
  /**
   * Where the node's reports get its load and free memory. Default: its own process tree's CPU
   * time and the OS's free memory. `mvm sim` passes one per simulated node, from its simulated ranks.
   */
  resources?: ResourceSampler
  logger?: Logger
}

export interface ResolvedInit {
  dataDir: string
  roles: Role[]
  listen: string[]
  transport: 'tcp' | 'memory' | 'memory+tcp'
  identify: boolean
  bootstrap: string[]
  group: string
  parentGroup?: string
  labels: Record<string, string>
  capacity: { slots: number, memoryMB: number }
  soap: { host: string, port: number, tls?: { certFile: string, keyFile: string }, allowInsecure: boolean }
  monitoring: { heartbeatMs: number, missedHeartbeats: number, maxChildGroups: number }
  security: { authentication: AuthMode, admittedPeers: string[], domainKeyFile?: string, clientAuthentication: 'none' | 'required' }
  bootstrapLeaseSec: number
  /** Standing by: `roles` then lacks super-peer, which the node takes up when it takes over. */
  standby: boolean
}

export const DEFAULTS = {
  listen: '/ip4/127.0.0.1/tcp/0',
  group: 'default',
  slots: 4,
  memoryMB: 2048,
  heartbeatMs: 2000,
  missedHeartbeats: 3,
  maxChildGroups: 16,
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
  const standby = i.standby === true
  if (standby) {
    if (!roles.includes('super-peer')) throw new ConfigError('standby: only a super-peer stands by; give the roles super-peer (e.g. --roles super-peer --standby)')
    if (i.parentGroup !== undefined) throw new ConfigError('standby: a child group\'s super-peer (parentGroup) cannot stand by')
    if (!roles.includes('bootstrap') && !bootstrap.some((b) => /^https?:\/\//i.test(b))) throw new ConfigError('bootstrap: a standby super-peer finds the active one through a bootstrap SOAP URL, e.g. --bootstrap http://127.0.0.1:7700 (or holds the bootstrap role itself)')
  }
  const needsBootstrap = (roles.includes('peer') && !roles.includes('super-peer')) || i.parentGroup !== undefined
  if (needsBootstrap && bootstrap.length === 0 && !roles.includes('bootstrap')) {
    throw new ConfigError('bootstrap: a peer (or a super-peer with a parent group) needs a bootstrap address, e.g. --bootstrap http://127.0.0.1:7700')
  }
  const auth = i.security?.authentication ?? 'none'
  if (auth === 'peer-list' && (i.security?.admittedPeers ?? []).length === 0) throw new ConfigError('security.admittedPeers: required (non-empty) when authentication is peer-list')
  if (auth === 'domain-key' && i.security?.domainKeyFile === undefined) throw new ConfigError('security.domainKeyFile: required when authentication is domain-key')
  const transport = i.transport ?? 'tcp'
  if (transport !== 'tcp' && transport !== 'memory' && transport !== 'memory+tcp') throw new ConfigError(`transport: expected tcp, memory or memory+tcp, got ${JSON.stringify(transport)}`)
  const port = i.soap?.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`soap.port: expected 0..65535, got ${String(port)}`)
  const out: ResolvedInit = {
    // a relative dir would reach the sandboxes (which refuse it) and move with the cwd
    dataDir: resolve(i.dataDir),
    // standing by, the node holds no broker: it is a member of the group until it takes over
    roles: standby ? roles.filter((r) => r !== 'super-peer') : roles,
    standby,
    listen: i.listen !== undefined && i.listen.length > 0 ? i.listen : [...(transport === 'tcp' ? [] : [`/memory/${randomUUID()}`]), ...(transport === 'memory' ? [] : [DEFAULTS.listen])],
    transport,
    identify: i.identify ?? true,
    bootstrap,
    group,
    labels: { ...(i.labels ?? {}) },
    capacity: { slots: posInt(i.capacity?.slots, 'capacity.slots', DEFAULTS.slots), memoryMB: posInt(i.capacity?.memoryMB, 'capacity.memoryMB', DEFAULTS.memoryMB) },
    soap: { host: i.soap?.host ?? '127.0.0.1', port, allowInsecure: i.soap?.allowInsecure === true },
    monitoring: {
      heartbeatMs: posInt(i.monitoring?.heartbeatMs, 'monitoring.heartbeatMs', DEFAULTS.heartbeatMs, 10),
      missedHeartbeats: posInt(i.monitoring?.missedHeartbeats, 'monitoring.missedHeartbeats', DEFAULTS.missedHeartbeats),
      maxChildGroups: posInt(i.monitoring?.maxChildGroups, 'monitoring.maxChildGroups', DEFAULTS.maxChildGroups)
    },
    security: { authentication: auth, admittedPeers: i.security?.admittedPeers ?? [], clientAuthentication: i.security?.clientAuthentication ?? 'none' },
    bootstrapLeaseSec: posInt(i.bootstrapLeaseSec, 'bootstrapLeaseSec', DEFAULTS.bootstrapLeaseSec)
  }
  if (i.soap?.tls !== undefined) out.soap.tls = { certFile: resolve(i.soap.tls.certFile), keyFile: resolve(i.soap.tls.keyFile) }
  // a peer checks its callers' credentials with its super-peer (remote-auth.ts); a bootstrap-only node checks none
  const authenticated = (roles.includes('super-peer') || roles.includes('peer')) && out.security.clientAuthentication === 'required'
  if (!isLoopback(out.soap.host) && !authenticated && !out.soap.allowInsecure) {
    throw new ConfigError(`soap.host ${out.soap.host} is not a loopback address, and SOAP callers of this node are not authenticated: anyone who reaches it could act as anyone. ` +
      'Give the node a policy with security.clientAuthentication: required (and a certificate: --tls-cert/--tls-key), or pass --allow-insecure to listen anyway')
  }
  if (i.parentGroup !== undefined) out.parentGroup = i.parentGroup
  if (i.security?.domainKeyFile !== undefined) out.security.domainKeyFile = resolve(i.security.domainKeyFile)
  return out
}
