import { loadPolicy, mergePolicies, type EffectivePolicy, type LoadedPolicy, type TaggedPolicy } from '@mvm/model'

/** Where a layer came from: a policy file the node was started with, or a SOAP ApplyPolicy. */
export const APPLIED = 'ApplyPolicy'

export interface PolicyLayer {
  /** The policy file path, or {@link APPLIED}. */
  origin: string
  policy: LoadedPolicy
  /** The broker's policy version that brought this layer in (set when the change is committed). */
  version?: number
}

/**
 * The policies a broker acts on, as an immutable list: every change builds a new list, so a
 * change that fails validation leaves the current one untouched (never half-applied).
 *
 * Rules: an applied policy replaces its whole level (files included); a changed file replaces
 * its own layer and, being the newest word at its level, any applied policy there. Files of
 * the same level coexist in the order given; `mergePolicies` orders the levels.
 */
export class PolicyLayers {
  private constructor (readonly layers: readonly PolicyLayer[]) {}

  static of (layers: PolicyLayer[]): PolicyLayers { return new PolicyLayers(layers) }

  /** Loads the files as a node does (each validated, errors name file:line:col). */
  static async load (files: readonly string[], options: { signal?: AbortSignal } = {}): Promise<PolicyLayers> {
    const layers: PolicyLayer[] = []
    for (const f of files) layers.push({ origin: f, policy: await loadPolicy(f, options) })
    return new PolicyLayers(layers)
  }

  merge (): EffectivePolicy { return mergePolicies(this.layers.map((l) => l.policy)) }

  /** The same list with every layer that has no version yet given `version` (the change bringing it in). */
  stamped (version: number): PolicyLayers {
    return new PolicyLayers(this.layers.map((l) => l.version === undefined ? { ...l, version } : l))
  }

  /** The layers as merge input with where they came from (this group; `version` for a layer not stamped yet). */
  tagged (group: string, version: number): TaggedPolicy[] {
    return this.layers.map((l) => ({ policy: l.policy, tag: { origin: l.origin, group, version: l.version ?? version } }))
  }

  withApplied (p: LoadedPolicy): PolicyLayers {
    return new PolicyLayers([...this.layers.filter((l) => l.policy.spec.level !== p.spec.level), { origin: APPLIED, policy: p }])
  }

  withFile (file: string, p: LoadedPolicy): PolicyLayers {
    const i = this.layers.findIndex((l) => l.origin === file)
    const kept = this.layers.filter((l) => !(l.origin === APPLIED && l.policy.spec.level === p.spec.level))
    if (i < 0) return new PolicyLayers([...kept, { origin: file, policy: p }])
    return new PolicyLayers(kept.map((l) => l.origin === file ? { origin: file, policy: p } : l))
  }

  /** The policy files in force and the files each extends. */
  files (): Map<string, string[]> {
    return new Map(this.layers.filter((l) => l.origin !== APPLIED).map((l) => [l.origin, l.policy.extendsFiles]))
  }

  describe (): Array<{ origin: string, level: string, name: string, version?: number }> {
    return this.layers.map((l) => ({ origin: l.origin, level: l.policy.spec.level, name: l.policy.metadata.name, ...(l.version !== undefined ? { version: l.version } : {}) }))
  }
}

/**
 * The policy files behind an effective policy, for a caller that only kept the merged result:
 * every file that set or enforced something, minus those only reached through `extends`
 * (they are watched through their children, not loaded on their own).
 */
export async function rootFiles (eff: EffectivePolicy, options: { signal?: AbortSignal } = {}): Promise<string[]> {
  const seen = [...new Set([...Object.values(eff.sources), ...Object.values(eff.enforced)].map((s) => s.file))]
  const loaded = await PolicyLayers.load(seen, options)
  const parents = new Set(loaded.layers.flatMap((l) => l.policy.extendsFiles))
  return seen.filter((f) => !parents.has(f))
}
