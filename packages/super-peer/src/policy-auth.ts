import { userInfo } from 'node:os'
import { ForbiddenError } from '@mvm/core'
import type { EffectivePolicy, EffectivePolicySpec } from '@mvm/model'

export type Permission = EffectivePolicySpec['security']['roles'][string][number]

/**
 * The subject of a request that names none (no `subject`, no `owner`): a policy with subjects
 * grants it rights by naming it.
 */
export const ANONYMOUS = 'anonymous'

/** True when the policy defines no subjects: then every operation is allowed. */
export function isOpen (security: EffectivePolicySpec['security']): boolean {
  return Object.keys(security.subjects).length === 0
}

/**
 * Subject rules besides plain names: `$USER` is the OS account the broker runs as (whoever
 * started the node operates it, so a policy can keep them in without naming them), `*` is
 * every subject. A subject gets the roles of every rule that matches it.
 */
export const OPERATOR_RULE = '$USER'
export const ANY_RULE = '*'

let operator: string | undefined
/** The broker's OS account, as `$USER` in a policy means it. */
export function operatorName (): string {
  if (operator === undefined) {
    try { operator = userInfo().username } catch { operator = process.env.USER ?? '' }
  }
  return operator
}

/** The subjects rules of `security.subjects` that apply to `subject`. */
function rulesFor (security: EffectivePolicySpec['security'], subject: string): string[] {
  const rules: string[] = []
  if (Object.hasOwn(security.subjects, subject)) rules.push(subject)
  if (subject !== '' && subject === operatorName() && Object.hasOwn(security.subjects, OPERATOR_RULE)) rules.push(OPERATOR_RULE)
  if (Object.hasOwn(security.subjects, ANY_RULE)) rules.push(ANY_RULE)
  return rules
}

/** The permissions a subject holds through its roles; `undefined` for a subject no rule of the policy matches. */
export function permissionsOf (security: EffectivePolicySpec['security'], subject: string): Set<Permission> | undefined {
  const rules = rulesFor(security, subject)
  if (rules.length === 0) return undefined
  const out = new Set<Permission>()
  for (const role of rules.flatMap((r) => security.subjects[r] ?? [])) {
    for (const p of Object.hasOwn(security.roles, role) ? security.roles[role] ?? [] : []) out.add(p)
  }
  return out
}

/**
 * Role-based access from the effective policy: `security.subjects` names each subject's roles,
 * `security.roles` each role's permissions (`*` grants all). The error names the subject, the
 * permission and the policy file that defines the subjects, so an operator knows what to edit.
 * @throws ForbiddenError
 */
export function authorize (policy: EffectivePolicy, subject: string, permission: Permission, purpose = ''): void {
  const sec = policy.spec.security
  // an open policy lets anyone do anything, but a proven identity is only set aside by an explicit grant
  if (isOpen(sec) && permission !== 'subject.assume') return
  const perms = permissionsOf(sec, subject)
  const src = policy.sources['security.subjects'] ?? Object.entries(policy.sources).find(([k]) => k.startsWith('security.subjects'))?.[1]
  const where = src === undefined ? '' : ` (security.subjects at ${src.file}:${src.line})`
  if (perms === undefined && isOpen(sec)) {
    throw new ForbiddenError(`subject "${subject}" lacks permission ${permission}${purpose} (no policy grants it: security.subjects is empty)`, { data: { subject, permission } })
  }
  if (perms === undefined) {
    throw new ForbiddenError(`subject "${subject}" is not defined in the policy${where}; ${permission}${purpose} refused`, { data: { subject, permission } })
  }
  if (!perms.has('*') && !perms.has(permission)) {
    const roles = [...new Set(rulesFor(sec, subject).flatMap((r) => sec.subjects[r] ?? []))].join(', ') || 'none'
    throw new ForbiddenError(`subject "${subject}" (roles: ${roles}) lacks permission ${permission}${purpose}${where}`, { data: { subject, permission } })
  }
}
