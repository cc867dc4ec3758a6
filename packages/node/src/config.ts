import { dirname, isAbsolute, resolve } from 'node:path'
import { loadNodeConfig, loadPolicy, mergePolicies, type EffectivePolicy, type LoadedPolicy } from '@mvm/model'
import type { MvmNodeInit } from './init.js'
import type { Role } from './types.js'

export interface FileSettings {
  init: Partial<MvmNodeInit>
  log?: { level: string, format: 'json' | 'pretty' }
  /** Enforced settings a lower policy level tried to change (printed as warnings). */
  warnings: string[]
  /** The merged policy, when any policy file was given: job machinery reads its other sections. */
  policy?: EffectivePolicy
  /** The policy files in the order they were merged (config's own first), for the broker to watch. */
  policyFiles: string[]
  /** The config file's `metadata.name`: the node's human name unless `--name` gives another. */
  name?: string
}

/**
 * Reads a NodeConfig file and policy files (the config's own `policy` plus `policyFiles`, in
 * that order) into node settings. Files are validated by @mvm/model, whose errors name file,
 * line and column. Only settings a policy actually wrote override the node's defaults.
 * Paths given here (the config file, policy files) resolve against the cwd; paths written inside
 * the config file (`dataDir`, `policy`) resolve against that file's folder, so a config file
 * means the same thing wherever the node is started from.
 */
export async function loadNodeSettings (configFile: string | undefined, policyFiles: string[] = [], options: { signal?: AbortSignal } = {}): Promise<FileSettings> {
  const out: FileSettings = { init: {}, warnings: [], policyFiles: [] }
  const policies: string[] = []
  if (configFile !== undefined) {
    const c = await loadNodeConfig(resolve(configFile), options)
    const s = c.spec
    out.name = c.metadata.name
    out.init = {
      roles: s.roles as Role[],
      listen: s.listen,
      bootstrap: s.bootstrap,
      group: s.group,
      labels: s.labels,
      capacity: { slots: s.capacity.slots, memoryMB: s.capacity.memoryMB },
      dataDir: resolve(s.dataDir),
      soap: { host: s.soap.host, port: s.soap.port }
    }
    if (s.parentGroup !== undefined) out.init.parentGroup = s.parentGroup
    if (s.standby !== undefined) out.init.standby = s.standby
    out.log = { level: s.log.level, format: s.log.format }
    if (s.policy !== undefined) policies.push(resolve(s.policy))
  }
  policies.push(...policyFiles.map((f) => resolve(f)))
  out.policyFiles = policies
  if (policies.length === 0) return out
  const loaded: LoadedPolicy[] = []
  for (const f of policies) loaded.push(await loadPolicy(f, options))
  const eff = mergePolicies(loaded)
  out.policy = eff
  const set = (path: string): boolean => eff.sources[path] !== undefined
  const mon = eff.spec.monitoring
  const monitoring: NonNullable<MvmNodeInit['monitoring']> = {}
  if (set('monitoring.intervalSec')) monitoring.heartbeatMs = Math.max(10, Math.round(mon.intervalSec * 1000))
  if (set('monitoring.missedHeartbeats')) monitoring.missedHeartbeats = mon.missedHeartbeats
  if (set('monitoring.maxChildGroups')) monitoring.maxChildGroups = mon.maxChildGroups
  out.init.monitoring = monitoring
  const sec = eff.spec.security
  const security: NonNullable<MvmNodeInit['security']> = { authentication: sec.authentication, admittedPeers: sec.admittedPeers, clientAuthentication: sec.clientAuthentication }
  if (sec.domainKeyFile !== undefined) {
    // a relative key path is relative to the policy file that names it
    const from = eff.sources['security.domainKeyFile']?.file
    security.domainKeyFile = isAbsolute(sec.domainKeyFile) || from === undefined ? sec.domainKeyFile : resolve(dirname(from), sec.domainKeyFile)
  }
  out.init.security = security
  out.warnings = eff.warnings.map((w) => `${w.file}:${w.line}:${w.column}: ${w.path}: ${w.message}`)
  return out
}
