import { DEFAULT_POLICY, policySections } from './schemas/policy.js'
import type { EffectivePolicySpec, PolicyLevel } from './schemas/policy.js'
import { getPath, leafPaths, setPath, within } from './tree.js'
import type { EffectivePolicy, LoadedPolicy, PolicyWarning, SourceLocation } from './types.js'

const rank: Record<PolicyLevel, number> = { 'inter-domain': 0, domain: 1, node: 2 }

/**
 * Merges policies of the three levels: node overrides domain overrides inter-domain, setting by
 * setting. A path that a *higher* level lists in `enforced` cannot be changed below it: the
 * attempt is ignored and reported as a warning naming the file and line. Policies of the same
 * level apply in the order given. Defaults fill whatever nobody set.
 */
export function mergePolicies (policies: readonly LoadedPolicy[]): EffectivePolicy {
  const ordered = policies
    .map((p, i) => ({ p, i }))
    .sort((a, b) => rank[a.p.spec.level] - rank[b.p.spec.level] || a.i - b.i)
    .map((x) => x.p)
  const spec = structuredClone(DEFAULT_POLICY) as unknown as Record<string, unknown>
  const sources: Record<string, SourceLocation> = {}
  const enforced: Record<string, SourceLocation & { level: number }> = {}
  const warnings: PolicyWarning[] = []

  for (const p of ordered) {
    const level = rank[p.spec.level]
    for (const section of policySections) {
      const set = p.spec[section]
      if (set === undefined) continue
      for (const leaf of leafPaths({ [section]: set })) {
        const dotted = leaf.join('.')
        const where = p.sources[dotted] ?? { file: p.file, line: 1, column: 1 }
        const lock = Object.entries(enforced).find(([path, e]) => e.level < level && (within(dotted, path) || within(path, dotted)))
        if (lock !== undefined) {
          const [path, e] = lock
          warnings.push({
            ...where,
            path: dotted,
            message: `ignored: '${path}' is enforced by the ${levelName(e.level)} policy at ${e.file}:${e.line}`
          })
          continue
        }
        setPath(spec, leaf, getPath(p.spec, leaf))
        sources[dotted] = where
      }
    }
    for (const path of p.spec.enforced) {
      // the highest level to enforce a path keeps it; a lower level cannot loosen it
      if (enforced[path] !== undefined && enforced[path].level <= level) continue
      const at = p.enforcedAt[path] ?? { file: p.file, line: 1, column: 1 }
      enforced[path] = { ...at, level }
    }
  }
  const enforcedOut: Record<string, SourceLocation> = {}
  for (const [k, { level: _level, ...loc }] of Object.entries(enforced)) enforcedOut[k] = loc
  return { spec: spec as unknown as EffectivePolicySpec, sources, enforced: enforcedOut, warnings }
}

function levelName (n: number): string {
  return (Object.keys(rank) as PolicyLevel[]).find((k) => rank[k] === n) ?? String(n)
}
