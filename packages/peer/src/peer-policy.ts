import { checkReceivedLayer, loadPolicy, mergeTraced, type EffectivePolicy, type ScopeTarget, type TaggedPolicy, type TracedPolicy } from '@mvm/model'
import type { Logger } from '@mvm/core'

/** What a node runs, as it reports it back to its super-peer (the reply to a policy push). */
export interface NodePolicyState {
  peerId: string
  group: string
  /** The super-peer's policy version this node runs (0 before the first push). */
  version: number
  /** When the node adopted it (ms since the epoch). */
  adoptedAtMs: number
  policy: TracedPolicy
}

/** The sandbox part of a policy a peer acts on (driver, warm pool) before its first job. */
export interface SandboxTarget {
  adopt: (s: { driver: string, poolSize: number, reuseForSameOwner: boolean, memoryMB: number }) => void
}

/**
 * A node's policy: the layers its super-peer pushes (inter-domain and domain, each tagged with
 * the group and version it came from) under the node's own files. A push replaces the group
 * levels the node was started with (the super-peer is the authority for them, as an applied
 * policy replaces its level there); the node's own node-level files stay on top, except where
 * a higher level `enforced` a setting.
 */
export class PeerPolicy {
  private own: TaggedPolicy[] = []
  private version = 0
  private group = ''
  private adoptedAtMs = Date.now()
  private eff: TracedPolicy

  private labels: Readonly<Record<string, string>> = {}

  constructor (private readonly peerId: () => string, private readonly target: SandboxTarget, private readonly log: Logger) {
    this.eff = mergeTraced([])
  }

  /** Loads the node's own policy files (as started), so each setting can be traced to them. */
  async load (files: readonly string[], group: string, options: { signal?: AbortSignal, labels?: Readonly<Record<string, string>> } = {}): Promise<void> {
    this.group = group
    this.labels = options.labels ?? {}
    this.own = []
    for (const f of files) this.own.push({ policy: await loadPolicy(f, options), tag: { origin: f, group: `node ${this.peerIdSafe()}`, version: 0 } })
    this.eff = mergeTraced(this.own, this.scope())
  }

  /** This node as a policy's `scope` sees it. */
  private scope (): ScopeTarget { return { group: this.group, peerId: this.peerIdSafe(), labels: this.labels } }

  get effective (): TracedPolicy { return this.eff }

  state (): NodePolicyState {
    return { peerId: this.peerIdSafe(), group: this.group, version: this.version, adoptedAtMs: this.adoptedAtMs, policy: this.eff }
  }

  /**
   * A push from the super-peer: layers checked, merged under the node's node-level files, the
   * sandbox part adopted. A layer that does not validate is dropped (logged), never merged.
   */
  receive (push: { version: number, group?: string, layers: unknown[] }, from: string): NodePolicyState {
    const layers: TaggedPolicy[] = []
    for (const raw of push.layers) {
      try { layers.push(checkReceivedLayer(raw)) } catch (err) { this.log.warn({ from, err: (err as Error).message }, 'a pushed policy layer is invalid; dropped') }
    }
    const nodeLevel = this.own.filter((l) => l.policy.spec.level === 'node')
    this.version = push.version
    if (typeof push.group === 'string') this.group = push.group
    this.eff = mergeTraced([...layers, ...nodeLevel], this.scope())
    this.adoptedAtMs = Date.now()
    const s = this.eff.spec.sandbox
    this.target.adopt({ driver: s.driver, poolSize: s.poolSize, reuseForSameOwner: s.reuseForSameOwner, memoryMB: s.defaults.memoryMB })
    for (const w of this.eff.warnings) this.log.warn(`policy: ${w.file}:${w.line}:${w.column}: ${w.path}: ${w.message}`)
    this.log.info({ from, version: this.version, layers: layers.length }, 'policy from the super-peer adopted')
    return this.state()
  }

  private peerIdSafe (): string {
    try { return this.peerId() } catch { return '' }
  }
}

/** The files behind a merged policy when only the merged result was kept: every file that set or enforced something. */
export function policyFilesOf (eff: EffectivePolicy | undefined): string[] {
  if (eff === undefined) return []
  return [...new Set([...Object.values(eff.sources), ...Object.values(eff.enforced)].map((s) => s.file))]
}
