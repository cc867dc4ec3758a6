import { UnauthorizedError } from '@mvm/core'
import type { EffectivePolicy, EffectivePolicySpec } from '@mvm/model'

export type Permission = EffectivePolicySpec['security']['roles'][string][number]

/**
 * The subject of a request that carries none (every Broker operation but SubmitJob, until the
 * WSDL gives them a subject): a policy with subjects grants it rights by naming it.
 */
export const ANONYMOUS = 'anonymous'

/** True when the policy defines no subjects: then every operation is allowed. */
export function isOpen (security: EffectivePolicySpec['security']): boolean {
  return Object.keys(security.subjects).length === 0
}

/** The permissions a subject holds through its roles; `undefined` for a subject the policy does not know. */
export function permissionsOf (security: EffectivePolicySpec['security'], subject: string): Set<Permission> | undefined {
  if (!Object.hasOwn(security.subjects, subject)) return undefined
  const out = new Set<Permission>()
  for (const role of security.subjects[subject] ?? []) {
    for (const p of Object.hasOwn(security.roles, role) ? security.roles[role] ?? [] : []) out.add(p)
  }
  return out
}

/**
 * Role-based access from the effective policy: `security.subjects` names each subject's roles,
 * `security.roles` each role's permissions (`*` grants all). The error names the subject, the
 * permission and the policy file that defines the subjects, so an operator knows what to edit.
 * @throws UnauthorizedError
 */
export function authorize (policy: EffectivePolicy, subject: string, permission: Permission): void {
  const sec = policy.spec.security
  if (isOpen(sec)) return
  const perms = permissionsOf(sec, subject)
  const src = policy.sources['security.subjects'] ?? Object.entries(policy.sources).find(([k]) => k.startsWith('security.subjects'))?.[1]
  const where = src === undefined ? '' : ` (security.subjects at ${src.file}:${src.line})`
  if (perms === undefined) {
    throw new UnauthorizedError(`subject "${subject}" is not defined in the policy${where}; ${permission} refused`, { data: { subject, permission } })
  }
  if (!perms.has('*') && !perms.has(permission)) {
    const roles = (sec.subjects[subject] ?? []).join(', ') || 'none'
    throw new UnauthorizedError(`subject "${subject}" (roles: ${roles}) lacks permission ${permission}${where}`, { data: { subject, permission } })
  }
}
