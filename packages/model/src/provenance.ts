import { mergePolicies } from './merge.js'
import { policySpecSchema, type PolicyLevel, type PolicySpec } from './schemas/policy.js'
import { leafPaths } from './tree.js'
import type { EffectivePolicy, LoadedPolicy, SourceLocation } from './types.js'

/**
 * Where a policy layer came from in the super-peer tree: the group whose super-peer holds it
 * (the top of the tree for an inter-domain layer pushed down) and the policy version there.
 */
export interface LayerTag {
  /** A policy file path, or `ApplyPolicy` for one applied at run time. */
  origin: string
  group: string
  version: number
}

export interface TaggedPolicy { policy: LoadedPolicy, tag: LayerTag }

/** Where one effective setting came from: file and line, level, version and group, or the default. */
export interface FieldOrigin extends SourceLocation {
  level: PolicyLevel | 'default'
  version: number
  group?: string
}

export interface TracedPolicy extends EffectivePolicy {
  /** Every leaf setting of `spec` (dotted path) and where it came from. */
  origins: Record<string, FieldOrigin>
}

/** The node a policy is merged for: what `scope` is matched against. */
export interface ScopeTarget {
  group: string
  peerId: string
  labels: Readonly<Record<string, string>>
}

/** Whether a policy's `scope` takes in `target` (no scope: everyone). A node is named by peer ID or `name` label. */
export function inScope (scope: PolicySpec['scope'], target: ScopeTarget): boolean {
  if (scope === undefined) return true
  const groups = [...(scope.group !== undefined ? [scope.group] : []), ...(scope.groups ?? [])]
  if (groups.length > 0 && !groups.includes(target.group)) return false
  const nodes = [...(scope.node !== undefined ? [scope.node] : []), ...(scope.nodes ?? [])]
  if (nodes.length > 0 && !nodes.some((n) => n === target.peerId || n === target.labels.name)) return false
  return Object.entries(scope.labels ?? {}).every(([k, v]) => target.labels[k] === v)
}

/** Whether a policy names particular nodes (by node or label): such a node-level policy is sent to the group's peers. */
export function namesNodes (scope: PolicySpec['scope']): boolean {
  return scope !== undefined && (scope.node !== undefined || scope.nodes !== undefined || scope.labels !== undefined)
}

const rank: Record<PolicyLevel, number> = { 'inter-domain': 0, domain: 1, node: 2 }
const sameAt = (a: SourceLocation | undefined, b: SourceLocation | undefined): boolean =>
  a !== undefined && b !== undefined && a.file === b.file && a.line === b.line && a.column === b.column

/**
 * {@link mergePolicies} over tagged layers, telling for every setting which layer's value won:
 * the last layer, in merge order, whose own location for that setting is the one the merge kept.
 */
export function mergeTraced (all: readonly TaggedPolicy[], target?: ScopeTarget): TracedPolicy {
  // a layer scoped to other groups, nodes or labels does not count here
  const layers = target === undefined ? all : all.filter((l) => inScope(l.policy.spec.scope, target))
  const eff = mergePolicies(layers.map((l) => l.policy))
  const ordered = layers.map((l, i) => ({ l, i })).sort((a, b) => rank[a.l.policy.spec.level] - rank[b.l.policy.spec.level] || a.i - b.i).map((x) => x.l)
  const origins: Record<string, FieldOrigin> = {}
  for (const leaf of leafPaths(eff.spec)) origins[leaf.join('.')] = { file: '(default)', line: 0, column: 0, level: 'default', version: 0 }
  for (const { policy, tag } of ordered) {
    for (const [path, at] of Object.entries(policy.sources)) {
      const won = eff.sources[path]
      if (!sameAt(at, won)) continue
      // a map setting (e.g. scheduling.options) is traced at the map and at each key under it
      for (const key of Object.keys(origins).filter((k) => k === path || k.startsWith(path + '.'))) {
        origins[key] = { ...won!, level: policy.spec.level, version: tag.version, group: tag.group }
      }
    }
  }
  return { ...eff, origins }
}

/**
 * A layer received from another node (a policy pushed down the tree), checked as a file would
 * be: a layer whose spec no longer validates is refused with the reason, never merged.
 */
export function checkReceivedLayer (raw: unknown): TaggedPolicy {
  const r = raw as { policy?: Partial<LoadedPolicy>, tag?: Partial<LayerTag> } | null
  const p = r?.policy
  const tag = r?.tag
  if (p === undefined || p === null || typeof p !== 'object' || tag === undefined || tag === null) throw new TypeError('a policy layer needs `policy` and `tag`')
  const spec = policySpecSchema.safeParse(p.spec)
  if (!spec.success) throw new TypeError(`policy layer ${String(p.metadata?.name ?? '?')}: ${spec.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  if (typeof tag.origin !== 'string' || typeof tag.group !== 'string' || typeof tag.version !== 'number') throw new TypeError('a policy layer tag needs origin, group and version')
  const locs = (v: unknown): Record<string, SourceLocation> => (typeof v === 'object' && v !== null ? v as Record<string, SourceLocation> : {})
  return {
    policy: {
      kind: 'Policy',
      apiVersion: 'mvm/v1',
      file: typeof p.file === 'string' ? p.file : tag.origin,
      metadata: { name: typeof p.metadata?.name === 'string' ? p.metadata.name : 'received' } as LoadedPolicy['metadata'],
      params: {},
      spec: spec.data,
      sources: locs(p.sources),
      enforcedAt: locs(p.enforcedAt),
      extendsFiles: []
    },
    tag: { origin: tag.origin, group: tag.group, version: tag.version }
  }
}
