import { permissions, type EffectivePolicySpec } from '@mvm/model'
import { ANY_RULE, OPERATOR_RULE, isOpen, operatorName, permissionsOf, type Permission } from './policy-auth.js'

type Security = EffectivePolicySpec['security']

/** Every permission by name (`*` stands for all of them). */
const ALL = permissions.filter((p) => p !== '*')

/**
 * The rights a caller must keep through a policy change unless it forces it: without them it
 * could not see its jobs, submit, or undo the change itself.
 */
export const SELF_RIGHTS: readonly Permission[] = ['job.submit', 'job.list', 'policy.read', 'policy.apply']

/** A name no subject rule can match but `*`: stands for every subject the policy does not name. */
const OTHER = '\u0000other'

function leaves (v: unknown, prefix: string, out: Map<string, string>): Map<string, string> {
  // an empty mapping is no setting: `options: {}` and `options.backfill: true` are one change, not two
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, prefix === '' ? k : `${prefix}.${k}`, out)
  } else if (prefix !== '' && v !== undefined) {
    out.set(prefix, JSON.stringify(v))
  }
  return out
}

/** One line per effective setting that differs, `path: before -> after` (`unset` where absent), in path order. */
export function policyChanges (before: EffectivePolicySpec, after: EffectivePolicySpec): string[] {
  const a = leaves(before, '', new Map())
  const b = leaves(after, '', new Map())
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort()
  return paths.filter((p) => a.get(p) !== b.get(p)).map((p) => `${p}: ${a.get(p) ?? 'unset'} -> ${b.get(p) ?? 'unset'}`)
}

/** What `subject` may do: everything under a policy with no subjects, nothing where no rule matches it. */
export function rightsOf (sec: Security, subject: string): Set<Permission> {
  if (isOpen(sec)) return new Set(ALL)
  const p = permissionsOf(sec, subject) ?? new Set<Permission>()
  return p.has('*') ? new Set(ALL) : p
}

export interface LostRights { subject: string, label: string, lost: Permission[] }

/**
 * Who loses which rights going from `before` to `after`: every subject either policy names,
 * the caller, and "any other subject" (those no rule names, e.g. when a policy that named
 * nobody, so allowed all, gets its first subjects).
 */
export function lostRights (before: Security, after: Security, caller: string): LostRights[] {
  const named = [...new Set([...Object.keys(before.subjects), ...Object.keys(after.subjects), caller])]
    .filter((s) => s !== ANY_RULE && s !== OPERATOR_RULE)
  if (Object.hasOwn(before.subjects, OPERATOR_RULE) || Object.hasOwn(after.subjects, OPERATOR_RULE)) {
    if (!named.includes(operatorName())) named.push(operatorName())
  }
  const out: LostRights[] = []
  for (const subject of [...named, OTHER]) {
    const now = rightsOf(after, subject)
    const lost = [...rightsOf(before, subject)].filter((p) => !now.has(p))
    if (lost.length === 0) continue
    const label = subject === OTHER ? 'any other subject' : subject === caller ? `${subject} (you)` : subject
    out.push({ subject, label, lost })
  }
  return out
}

export const lostText = (l: LostRights): string => `${l.label}: ${l.lost.join(', ')}`
