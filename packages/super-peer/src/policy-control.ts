import { BadRequestError, InvalidStateError, NotFoundError, ValidationError, formatIssue, toMvmError, type Logger } from '@mvm/core'
import { checkReceivedLayer, inScope, loadText, mergeTraced, namesNodes, type EffectivePolicySpec, type ScopeTarget, type TaggedPolicy, type TracedPolicy } from '@mvm/model'
import { schedulingStrategies, type FaultTolerance, type StrategySpec, type UserQuotas } from '@mvm/broker'
import { APPLIED, PolicyLayers } from './policy-layers.js'
import { PolicyWatcher } from './policy-watch.js'
import { SELF_RIGHTS, lostRights, lostText, policyChanges } from './policy-diff.js'
import { PolicyHistory } from './policy-history.js'

/** What a policy change acts on; the broker agent wires these to the broker and the group. */
export interface PolicyEffects {
  setStrategy: (spec: StrategySpec) => void
  setFaultTolerance: (ft: FaultTolerance) => void
  /** Tells the group's peers (best effort: a peer that misses it gets it when it rejoins). */
  broadcast: (policyJson: string) => void
}

/**
 * What a super-peer sends its members (peers and child super-peers) after every change: its
 * version, the merged spec, and the layers below the node level with where each came from. A
 * child super-peer takes the inter-domain ones as its own top layers; a peer merges them all
 * under its own node-level files.
 */
export interface PolicyPush {
  version: number
  group: string
  spec: EffectivePolicySpec
  layers: TaggedPolicy[]
}

export interface PolicyChange { version: number, warnings: string[] }

/** An ApplyPolicy as the broker sees it: a new policy or the previous one, for `subject`. */
export interface PolicyRequest {
  /** The YAML text of one Policy document; absent with `previous`. */
  text?: string
  /** Restore the policy in force before the last change (an undo; repeat to go further back). */
  previous?: boolean
  /** Restore the applied policies of this version (see `mvm policy history`); the files stay as they are now. */
  version?: number
  /** Report what would change, change nothing. */
  dryRun?: boolean
  /** Apply even if it takes the caller's own rights (see {@link SELF_RIGHTS}). */
  force?: boolean
  subject: string
}

export interface PolicyOutcome extends PolicyChange {
  applied: boolean
  /** `path: before -> after` per effective setting that differs. */
  changes: string[]
  /** `subject: perm, perm` per subject that loses rights. */
  lostRights: string[]
}

/** How many earlier policies `previous` can go back to. */
const HISTORY = 20

/** `extends` as a mapping key, in block or flow style (not the word inside some text). */
const EXTENDS_KEY = [/^[\t ]*["']?extends["']?[\t ]*:/m, /[{,][\t ]*["']?extends["']?[\t ]*:/]

const specs = (l: PolicyLayers): unknown => l.layers.map((x) => [x.origin, x.policy.spec])
export const strategyOf = (s: EffectivePolicySpec): { type: string, options: Record<string, unknown> } => ({ type: s.scheduling.strategy, options: s.scheduling.options })
export const ftOf = (s: EffectivePolicySpec): FaultTolerance => ({ recovery: s.faultTolerance.recovery, maxRestarts: s.faultTolerance.maxRestarts, retryFailedRanks: s.faultTolerance.retryFailedRanks, poisonAfter: s.faultTolerance.poisonAfter })
export const quotasOf = (s: EffectivePolicySpec): UserQuotas => {
  const { users, ...defaults } = s.scheduling.quotas
  return { defaults, users, fairShare: s.scheduling.fairShare }
}
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)
const warningText = (w: TracedPolicy['warnings'][number]): string => `${w.file}:${w.line}:${w.column}: ${w.path}: ${w.message}`

/** A policy sent over SOAP, validated (issues name the file {@link APPLIED}). */
async function parseApplied (text: string): Promise<Awaited<ReturnType<typeof loadText>> & { kind: 'Policy' }> {
  // `extends` would make the broker read files of the caller's choosing on its own host
  if (EXTENDS_KEY.some((re) => re.test(text))) throw new BadRequestError('ApplyPolicy: `extends` is not accepted over SOAP; send the whole policy')
  const doc = await loadText(text, APPLIED, {})
  if (doc.kind !== 'Policy') throw new BadRequestError(`ApplyPolicy: expected a document of kind Policy, got ${doc.kind}`)
  return doc
}

/**
 * The super-peer's policy at run time: the layers (files and applied policies), their merged
 * result, and the one path every change takes — validate, merge, check that the components it
 * names exist, then swap and apply without a restart. Changes run one at a time, so a file edit
 * and an ApplyPolicy never interleave.
 */
export class PolicyControl {
  private layers = PolicyLayers.of([])
  private eff: TracedPolicy
  private version = 0
  /**
   * The inter-domain layers pushed down by the parent group's super-peer, each tagged with the
   * group and version it came from. They merge after this node's own inter-domain layers (the
   * top of the tree has the last word at that level) and their `enforced` paths bind every level below.
   */
  private inherited: TaggedPolicy[] = []
  private inheritedFrom: { group: string, version: number } | undefined
  /** What the broker runs with now, which need not be what the files say (a caller may pass its own). */
  private running: { strategy: unknown, faultTolerance: FaultTolerance }
  private chain: Promise<unknown> = Promise.resolve()
  private readonly watcher: PolicyWatcher
  /**
   * Every policy file the node was given, with the files it extends (as last read). An applied
   * policy may displace a file's layer; the file stays watched, and its next edit brings it back.
   */
  private readonly roots = new Map<string, string[]>()
  /** The YAML of each applied policy by level, as sent: what is stored to survive a restart. */
  private applied = new Map<string, string>()
  /** Stores the applied policies durably (the broker's job store); unset until {@link restore}. */
  private persist: ((texts: string[]) => void) | undefined
  /** The layers (and applied texts) before each change, newest last, for `previous`. */
  private history: Array<{ layers: PolicyLayers, applied: Map<string, string> }> = []
  /** Every version, with who made it, when and what changed; kept in the job store. */
  readonly versions = new PolicyHistory()

  private readonly group: string
  /** This super-peer as `scope` sees it (its group, peer ID and labels); unset: every layer counts. */
  private readonly target: (() => ScopeTarget | undefined) | undefined

  constructor (private readonly effects: PolicyEffects, private readonly log: Logger, opts: { debounceMs?: number, group?: string, target?: () => ScopeTarget | undefined } = {}) {
    this.group = opts.group ?? ''
    this.target = opts.target
    this.eff = this.merge(this.layers)
    this.running = { strategy: strategyOf(this.eff.spec), faultTolerance: ftOf(this.eff.spec) }
    this.watcher = new PolicyWatcher((f) => { void this.fileChanged(f) }, log, opts.debounceMs)
  }

  get effective (): TracedPolicy { return this.eff }

  /** Own layers then inherited ones, traced (file, level, group, version per setting). */
  private merge (layers: PolicyLayers, inherited: TaggedPolicy[] = this.inherited): TracedPolicy {
    return mergeTraced([...layers.tagged(this.group, this.version + 1), ...inherited], this.target?.())
  }
  get changes (): number { return this.version }

  /** Loads the node's policy files and starts watching them; the broker already runs with their settings. */
  async start (files: readonly string[], running: { strategy: StrategySpec, faultTolerance: FaultTolerance }, options: { signal?: AbortSignal } = {}): Promise<void> {
    this.layers = (await PolicyLayers.load(files, options)).stamped(0)
    this.eff = this.merge(this.layers)
    const s = running.strategy
    this.running = { strategy: typeof s === 'string' ? { type: s, options: {} } : { type: s.type, options: s.options ?? {} }, faultTolerance: running.faultTolerance }
    this.rewatch()
  }

  stop (): void { this.watcher.close() }

  /** ApplyPolicy: YAML text of one Policy document, merged over the current policies at its level. */
  async applyYaml (text: string): Promise<PolicyChange> {
    const doc = await parseApplied(text)
    return await this.serial(async () => {
      const applied = new Map(this.applied).set(doc.spec.level, text)
      return this.commit(this.layers.withApplied(doc), APPLIED, applied)
    })
  }

  /**
   * Puts back the policies applied before a restart (as stored by `persist`), then stores every
   * later change through it. A stored text that no longer validates (the model changed) is
   * logged and dropped, never fatal: the node starts on its files.
   */
  async restore (texts: readonly string[], persist: (texts: string[]) => void, history?: { stored: string | undefined, save: (json: string) => void }): Promise<void> {
    await this.serial(async () => {
      if (history !== undefined) {
        this.versions.use(history.stored, history.save)
        // versions count on across restarts: a number names one policy for good
        this.version = Math.max(this.version, this.versions.latest)
      }
      let next = this.layers
      const applied = new Map<string, string>()
      for (const text of texts) {
        try {
          const doc = await loadText(text, APPLIED, {})
          if (doc.kind !== 'Policy') throw new BadRequestError(`expected a Policy, got ${doc.kind}`)
          next = next.withApplied(doc)
          applied.set(doc.spec.level, text)
        } catch (err) {
          const e = toMvmError(err)
          const detail = e instanceof ValidationError ? e.issues.map(formatIssue).join('; ') : e.message
          this.log.error({ code: e.code }, `a stored applied policy no longer validates and is dropped: ${detail}`)
        }
      }
      this.persist = persist
      if (applied.size === 0) { if (texts.length > 0) persist([]); return }
      try {
        const c = this.commit(next, APPLIED, applied, 'forward', this.inherited, 'restart')
        this.log.info({ version: c.version, levels: [...applied.keys()] }, 'policies applied before the restart are in force again')
      } catch (err) {
        this.log.error({ code: toMvmError(err).code }, `stored applied policies rejected, the files' policy stays: ${toMvmError(err).message}`)
      }
    })
  }

  /**
   * ApplyPolicy with its options: the new layers are merged and compared with the policy in
   * force before anything is swapped, so a dry run and a refusal change nothing.
   * @throws InvalidStateError when the change would take the caller's own rights and `force` is not set
   */
  async change (req: PolicyRequest): Promise<PolicyOutcome> {
    const asked = [req.text !== undefined, req.previous === true, req.version !== undefined].filter(Boolean).length
    if (asked > 1) throw new BadRequestError('ApplyPolicy: give one of policyYaml, previous or version')
    if (asked === 0) throw new BadRequestError('ApplyPolicy: policyYaml is missing (or set previous to restore the policy before the last change, or version to go back to that one)')
    const doc = req.text === undefined ? undefined : await parseApplied(req.text)
    return await this.serial(async () => {
      let next: PolicyLayers
      let appliedNext: Map<string, string>
      if (doc !== undefined) {
        next = this.layers.withApplied(doc)
        appliedNext = new Map(this.applied).set(doc.spec.level, req.text!)
      } else if (req.version !== undefined) {
        const v = this.versions.get(req.version)
        if (v === undefined) throw new NotFoundError(`ApplyPolicy version ${req.version}: no such version (mvm policy history lists the ${this.versions.describe().length} kept)`)
        next = PolicyLayers.of(this.layers.layers.filter((l) => l.origin !== APPLIED))
        for (const [, text] of v.applied) next = next.withApplied(await parseApplied(text))
        appliedNext = new Map(v.applied)
      } else {
        const prev = this.history.at(-1)
        if (prev === undefined) throw new InvalidStateError('ApplyPolicy previous: there is no earlier policy to go back to (none was replaced since the broker started, or all were rolled back)')
        next = prev.layers
        appliedNext = prev.applied
      }
      const eff = this.merge(next)
      const changes = policyChanges(this.eff.spec, eff.spec)
      const lost = lostRights(this.eff.spec.security, eff.spec.security, req.subject)
      const lostRightsText = lost.map(lostText)
      const preview = { applied: false, version: this.version, warnings: eff.warnings.filter((w) => w.file === APPLIED).map(warningText), changes, lostRights: lostRightsText }
      if (req.dryRun === true) return preview
      const mine = lost.find((l) => l.subject === req.subject)?.lost.filter((p) => SELF_RIGHTS.includes(p)) ?? []
      if (mine.length > 0 && req.force !== true) {
        throw new InvalidStateError(`ApplyPolicy refused: subject "${req.subject}" would lose ${mine.join(', ')} and could not undo it; ` +
          'add yourself to security.subjects (or a "$USER" or "*" rule), or force it (mvm policy apply --force)', { data: { subject: req.subject, lost: mine, lostRights: lostRightsText } })
      }
      const c = this.commit(next, APPLIED, appliedNext, req.previous === true ? 'back' : 'forward', this.inherited, req.subject)
      return { ...preview, ...c, applied: true }
    })
  }

  /** A watched file changed: reload the root files that read it; a bad edit keeps the old policy. */
  async fileChanged (file: string): Promise<void> {
    await this.serial(async () => {
      // the root files that read this one: itself, or through `extends`
      const roots = [...this.roots].filter(([r, ext]) => r === file || ext.includes(file)).map(([r]) => r)
      try {
        let next = this.layers
        for (const r of roots) {
          const loaded = await PolicyLayers.load([r])
          next = next.withFile(r, loaded.layers[0]!.policy)
        }
        // a save that changed nothing (or only touched the file) is not a policy change
        if (same(specs(next), specs(this.layers))) { this.log.debug({ file }, 'policy file touched; nothing changed'); return }
        const c = this.commit(next, file, this.applied, 'forward', this.inherited, 'file')
        this.log.info({ file, version: c.version }, 'policy file changed: applied')
        for (const w of c.warnings) this.log.warn(`policy: ${w}`)
      } catch (err) {
        const e = toMvmError(err)
        const detail = e instanceof ValidationError ? e.issues.map(formatIssue).join('; ') : `${file}: ${e.message}`
        this.log.error({ file, code: e.code }, `policy file change rejected, the current policy stays: ${detail}`)
      }
    })
  }

  /**
   * A push from the parent group's super-peer: its inter-domain layers replace the ones inherited
   * before. Layers that do not validate are dropped with a log line; a push that would break the
   * broker (e.g. a strategy unknown here) is refused and the current policy stays.
   * @returns this super-peer's version after the change (unchanged when nothing changed)
   */
  async inherit (push: unknown, from: string): Promise<number> {
    return await this.serial(async () => {
      const p = push as Partial<PolicyPush> | null
      if (p === null || typeof p !== 'object' || !Array.isArray(p.layers) || typeof p.version !== 'number') {
        this.log.warn({ from }, 'policy push from the parent group is malformed; ignored')
        return this.version
      }
      const layers: TaggedPolicy[] = []
      for (const raw of p.layers) {
        try {
          const l = checkReceivedLayer(raw)
          if (l.policy.spec.level === 'inter-domain') layers.push(l)
        } catch (err) { this.log.warn({ from, err: (err as Error).message }, 'a policy layer pushed by the parent group is invalid; dropped') }
      }
      const fromTag = { group: typeof p.group === 'string' ? p.group : from, version: p.version }
      if (same(layers, this.inherited)) { this.inheritedFrom = fromTag; return this.version }
      try {
        const c = this.commit(this.layers, `pushed by group ${fromTag.group}`, this.applied, 'none', layers, `group ${fromTag.group} v${p.version}`)
        this.inheritedFrom = fromTag
        this.log.info({ from: fromTag.group, parentVersion: p.version, version: c.version }, 'inter-domain policy from the parent group applied')
        for (const w of c.warnings) this.log.warn(`policy: ${w}`)
      } catch (err) {
        this.log.error({ from: fromTag.group, code: toMvmError(err).code }, `inter-domain policy from the parent group rejected, the current policy stays: ${toMvmError(err).message}`)
      }
      return this.version
    })
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn)
    this.chain = run.catch(() => undefined)
    return await run
  }

  /** Everything that can fail happens before the swap; after it, only effects that cannot. */
  private commit (nextLayers: PolicyLayers, origin: string, appliedNext: Map<string, string> = this.applied, history: 'forward' | 'back' | 'none' = 'forward', inherited: TaggedPolicy[] = this.inherited, who = origin): PolicyChange {
    const next = nextLayers.stamped(this.version + 1)
    const eff = this.merge(next, inherited)
    const strategy = strategyOf(eff.spec)
    try {
      schedulingStrategies.resolve(strategy)
    } catch (err) {
      const at = eff.sources['scheduling.strategy'] ?? { file: origin, line: 1, column: 1 }
      throw new ValidationError([{ ...at, path: 'scheduling.strategy', message: toMvmError(err).message }])
    }
    // a self-configuration rule must name a strategy that exists, or it would fail when it fires
    eff.spec.scheduling.rules.forEach((r, i) => {
      try {
        schedulingStrategies.resolve({ type: r.use.strategy, options: r.use.options ?? {} })
      } catch (err) {
        const at = eff.sources['scheduling.rules'] ?? { file: origin, line: 1, column: 1 }
        throw new ValidationError([{ ...at, path: `scheduling.rules[${i}].use.strategy`, message: toMvmError(err).message }])
      }
    })
    // a file edit displaces the applied policy of its level: only the applied layers left are kept
    const kept = new Set(next.layers.filter((l) => l.origin === APPLIED).map((l) => l.policy.spec.level as string))
    const applied = new Map([...appliedNext].filter(([level]) => kept.has(level)))
    if (this.persist !== undefined && !same([...applied], [...this.applied])) this.persist([...applied.values()])
    if (history === 'forward') this.history = [...this.history, { layers: this.layers, applied: this.applied }].slice(-HISTORY)
    else if (history === 'back') this.history = this.history.slice(0, -1)
    const before = this.eff.spec
    this.applied = applied
    this.inherited = inherited
    this.layers = next
    this.eff = eff
    this.version++
    this.versions.add({ version: this.version, atMs: Date.now(), who, origin, changes: policyChanges(before, eff.spec), applied: [...applied] })
    // a push from the parent reports what it overrode here (any file), a local change its own file's issues
    const warnings = eff.warnings.filter((w) => w.file === origin || history === 'none').map(warningText)
    if (!same(this.running.strategy, strategy)) { this.effects.setStrategy(strategy); this.running.strategy = strategy }
    const ft = ftOf(eff.spec)
    if (!same(this.running.faultTolerance, ft)) { this.effects.setFaultTolerance(ft); this.running.faultTolerance = ft }
    this.rewatch()
    this.effects.broadcast(this.policyJson())
    return { version: this.version, warnings }
  }

  private rewatch (): void {
    for (const [f, ext] of this.layers.files()) this.roots.set(f, ext)
    this.watcher.set([...new Set([...this.roots].flatMap(([f, ext]) => [f, ...ext]))])
  }

  /** What members are sent ({@link PolicyPush}): node-level layers stay on this node. */
  policyJson (): string {
    // node-level layers are this node's own, unless their scope names nodes or labels of the group
    const layers = [...this.layers.tagged(this.group, this.version), ...this.inherited].filter((l) => l.policy.spec.level !== 'node' || namesNodes(l.policy.spec.scope))
    const push: PolicyPush = { version: this.version, group: this.group, spec: this.eff.spec, layers }
    return JSON.stringify(push)
  }

  /** GetPolicy: the effective policy with where each setting came from (file, level, group, version). */
  describe (): Record<string, unknown> {
    const target = this.target?.()
    const applies = (p: TaggedPolicy['policy']): boolean => target === undefined || inScope(p.spec.scope, target)
    const inherited = this.inherited.map((l) => ({ origin: l.tag.origin, level: l.policy.spec.level, name: l.policy.metadata.name, version: l.tag.version, group: l.tag.group, applies: applies(l.policy) }))
    return {
      version: this.version,
      group: this.group,
      ...(this.inheritedFrom !== undefined ? { parent: this.inheritedFrom } : {}),
      layers: [...this.layers.describe().map((l, i) => ({ ...l, group: this.group, applies: applies(this.layers.layers[i]!.policy) })), ...inherited],
      ...this.eff
    }
  }
}
