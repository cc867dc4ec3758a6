import type { Logger } from '@mvm/core'
import type { AdaptRule, EffectivePolicySpec } from '@mvm/model'
import type { StrategySpec } from '@mvm/broker'

/** What a round measures: the values a rule's `when` compares. */
export interface Readings { queueLength: number, loadSpread: number, failuresPerHour: number }

/** One switch of the scheduling strategy by a rule, as logged and listed by GetPolicy. */
export interface Adaptation { atMs: number, rule: string, from: string, to: string, reason: string, readings: Readings }

const DEFAULT_ENTER = 2
const DEFAULT_EXIT = 3
/** Switches kept for GetPolicy (newest last). */
const KEPT = 100

function holds (cmp: string, v: number): boolean {
  const m = /^\s*(>=|<=|>|<)\s*(\d+(?:\.\d+)?)\s*$/.exec(cmp)
  if (m === null) return false
  const x = Number(m[2])
  switch (m[1]) {
    case '>': return v > x
    case '>=': return v >= x
    case '<': return v < x
    default: return v <= x
  }
}

const met = (r: AdaptRule, v: Readings): boolean =>
  Object.entries(r.when).every(([k, cmp]) => cmp === undefined || holds(cmp, v[k as keyof Readings]))

const ruleName = (r: AdaptRule, i: number): string => r.name ?? `rules[${i}]`
const whenText = (r: AdaptRule): string => Object.entries(r.when).map(([k, c]) => `${k} ${String(c).trim()}`).join(' and ')

/**
 * The component-level layer's self-configuration: monitoring results choose the scheduling
 * strategy. Each round a rule's condition is checked; counts of rounds in a row with it held
 * (or not) give the hysteresis. The policy's own strategy is in force when no rule is.
 */
export class SelfConfig {
  private active: { index: number, strategy: string } | undefined
  private readonly streak = new Map<number, { on: number, off: number }>()
  private readonly log: Adaptation[] = []

  constructor (private readonly apply: (s: StrategySpec) => void, private readonly current: () => string, private readonly logger: Logger, private readonly onSwitch?: (a: Adaptation) => void) {}

  get switches (): readonly Adaptation[] { return this.log }

  /** One monitoring round with the policy in force and the latest readings. */
  round (spec: EffectivePolicySpec['scheduling'], v: Readings): void {
    const rules = spec.rules
    rules.forEach((r, i) => {
      const s = this.streak.get(i) ?? { on: 0, off: 0 }
      if (met(r, v)) { s.on++; s.off = 0 } else { s.off++; s.on = 0 }
      this.streak.set(i, s)
    })
    for (const k of [...this.streak.keys()]) if (k >= rules.length) this.streak.delete(k)
    const a = this.active
    // the rule in force stays until its condition has failed for exitRounds in a row (or the policy dropped it)
    if (a !== undefined) {
      const r = rules[a.index]
      const gone = r === undefined || r.use.strategy !== a.strategy
      if (!gone && (this.streak.get(a.index)?.off ?? 0) < (r.exitRounds ?? DEFAULT_EXIT)) {
        if (this.current() !== r.use.strategy) this.apply({ type: r.use.strategy, options: r.use.options ?? {} })
        return
      }
      this.active = undefined
      this.switchTo({ type: spec.strategy, options: spec.options }, gone ? 'the rule left the policy' : `${whenText(r)} no longer holds (${r.exitRounds ?? DEFAULT_EXIT} rounds)`, r === undefined ? `rules[${a.index}]` : ruleName(r, a.index), v)
    }
    const i = rules.findIndex((r, k) => (this.streak.get(k)?.on ?? 0) >= (r.enterRounds ?? DEFAULT_ENTER))
    if (i < 0) return
    const r = rules[i]!
    this.active = { index: i, strategy: r.use.strategy }
    this.switchTo({ type: r.use.strategy, options: r.use.options ?? {} }, `${whenText(r)} (${r.enterRounds ?? DEFAULT_ENTER} rounds)`, ruleName(r, i), v)
  }

  private switchTo (s: { type: string, options: Record<string, unknown> }, reason: string, rule: string, v: Readings): void {
    const from = this.current()
    if (from === s.type) return
    try {
      this.apply(s)
    } catch (err) {
      this.logger.warn({ rule, strategy: s.type, err: (err as Error).message }, 'self-configuration: strategy not switched')
      return
    }
    const a: Adaptation = { atMs: Date.now(), rule, from, to: s.type, reason, readings: { ...v } }
    this.log.push(a)
    if (this.log.length > KEPT) this.log.shift()
    this.logger.info({ rule, from, to: s.type, reason, ...v }, `self-configuration: scheduling strategy ${from} -> ${s.type} (${reason})`)
    this.onSwitch?.(a)
  }
}
