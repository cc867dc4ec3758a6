import { z } from 'zod'
import { documentSchema, encodingSchema, labelsSchema, nonNegativeInt, peerIdSchema, positiveInt, positiveNumber, queueTypeSchema } from './common.js'

export const PolicyLevel = { interDomain: 'inter-domain', domain: 'domain', node: 'node' } as const
export type PolicyLevel = (typeof PolicyLevel)[keyof typeof PolicyLevel]

/** Permissions the broker and nodes check; `*` grants everything. */
export const permissions = [
  '*', 'job.submit', 'job.status', 'job.result', 'job.list', 'job.cancel.own', 'job.cancel.any',
  /** Read another user's jobs, results and logs (checked for signed-in callers: tenants apart). */
  'job.read.any',
  'policy.apply', 'policy.read', 'node.list', 'node.awaken', 'node.terminate',
  /** Act for another subject: submit as another owner, name another `subject` (operators' tools). */
  'subject.assume'
] as const
export const metricNames = ['load', 'freeSlots', 'memory', 'processes', 'queueDepth'] as const

const dateString = z.string().refine((s) => !Number.isNaN(Date.parse(s)), {
  error: (iss) => `expected an ISO date-time such as 2025-01-31T09:00:00Z, got ${JSON.stringify(iss.input)}`
})

/** A threshold on a monitored value: `>100`, `>=0.5`, `<3`, `<=10`. */
const comparison = z.string().regex(/^\s*(>=|<=|>|<)\s*\d+(\.\d+)?\s*$/, { error: (iss) => `expected a comparison such as '>100' or '<=0.5', got ${JSON.stringify(iss.input)}` })

/**
 * Self-configuration: on each monitoring round the broker checks every rule's `when` (all its
 * conditions must hold); the first rule that held for `enterRounds` rounds in a row puts its
 * `use` strategy in force, until its condition has failed for `exitRounds` rounds in a row
 * (hysteresis: no flapping around a threshold). Then the policy's own strategy is back.
 */
export const adaptRuleSchema = z.object({
  name: z.string().min(1).optional(),
  when: z.object({
    /** Jobs waiting in the broker's queue. */
    queueLength: comparison.optional(),
    /** The highest minus the lowest load among the group's up peers (CPUs busy). */
    loadSpread: comparison.optional(),
    /** Jobs that failed in the last hour. */
    failuresPerHour: comparison.optional()
  }).strict().refine((w) => Object.keys(w).length > 0, { error: 'a rule needs at least one condition: queueLength, loadSpread or failuresPerHour' }),
  use: z.object({ strategy: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
  enterRounds: positiveInt().optional(),
  exitRounds: positiveInt().optional()
}).strict()

/** Every field is optional in a file: levels override each other field by field, defaults fill the rest. */
export const schedulingSchema = z.object({
  strategy: z.string().min(1).optional(),
  options: z.record(z.string(), z.unknown()).optional(),
  /**
   * A job needing more slots than the group's peers have in all is refused at submit (false),
   * or accepted and held queued with that reason, for groups that nodes may still join (true).
   */
  waitForCapacity: z.boolean().optional(),
  /**
   * A job the group refuses for capacity (too big, or no peer matching its placement) is passed
   * to another group of the tree that takes it (`allow`), or refused here (`forbid`).
   */
  crossGroup: z.enum(['allow', 'forbid']).optional(),
  /**
   * A job queued here this long (seconds, its dependencies done) is offered to the other groups
   * of the tree as one refused at submit is; unset: only a job the group can never run is.
   */
  crossGroupAfterSec: positiveNumber().optional(),
  /** Self-configuration rules (see {@link adaptRuleSchema}), first match wins. */
  rules: z.array(adaptRuleSchema).optional(),
  /**
   * Per-user limits: ranks running at once and jobs queued at once. A submit over
   * `maxQueuedJobs`, or of a job larger than `maxRunningRanks`, is refused (E_QUOTA); a job that
   * would take its owner over `maxRunningRanks` waits, and the scheduler passes over it.
   */
  quotas: z.object({
    maxRunningRanks: positiveInt().optional(),
    maxQueuedJobs: positiveInt().optional(),
    users: z.record(z.string().min(1), z.object({
      maxRunningRanks: positiveInt().optional(),
      maxQueuedJobs: positiveInt().optional()
    }).strict()).optional()
  }).strict().optional(),
  /** Among jobs of equal priority, the owner with the fewest running ranks goes first (default true). */
  fairShare: z.boolean().optional(),
  /**
   * Slots kept for the jobs that name the reservation (profile `spec.reservation`) from `from`
   * to `to`: `nodes` holds those nodes whole, `slots` that many slots (on nodes matching
   * `labels`); others' jobs do not get them during the window. `subjects` may submit into it.
   */
  reservations: z.array(z.object({
    name: z.string().min(1),
    subjects: z.array(z.string().min(1)).optional(),
    labels: labelsSchema.optional(),
    nodes: z.array(z.string().min(1)).min(1).optional(),
    slots: positiveInt().optional(),
    from: dateString.optional(),
    to: dateString.optional()
  }).strict().refine((r) => r.slots !== undefined || r.nodes !== undefined, { error: 'a reservation holds `slots`, `nodes`, or both' })).optional()
}).strict()

export const securitySchema = z.object({
  authentication: z.enum(['none', 'peer-list', 'domain-key']).optional(),
  /**
   * SOAP callers: `required` refuses every Broker and Node call without valid credentials
   * (WS-Security UsernameToken or bearer token from the super-peer's users file); with `none`
   * credentials are still checked when sent, and bind the caller's identity.
   */
  clientAuthentication: z.enum(['none', 'required']).optional(),
  admittedPeers: z.array(peerIdSchema).optional(),
  domainKeyFile: z.string().min(1).optional(),
  roles: z.record(z.string(), z.array(z.enum(permissions))).optional(),
  subjects: z.record(z.string(), z.array(z.string().min(1))).optional()
}).strict()

/**
 * Settings a policy once accepted but nothing acted on: refused by name, with why, rather than
 * parsed and ignored. Nodes report every metric (scheduling needs them all); a rank checkpoints
 * when its program calls `ctx.checkpoint()`, so there is no interval to default.
 */
const unsupported = (why: string): z.ZodOptional<z.ZodNever> => z.never({ error: why }).optional()

export const monitoringSchema = z.object({
  intervalSec: positiveNumber().optional(),
  missedHeartbeats: positiveInt().optional(),
  /** Most child super-peers (child groups) one super-peer admits: keeps the tree's fan-in bounded. */
  maxChildGroups: positiveInt().optional(),
  metrics: unsupported(`monitoring.metrics is not supported: every node reports all of ${metricNames.join(', ')}, which scheduling and self-configuration need; remove the field`)
}).strict()

export const faultToleranceSchema = z.object({
  checkpointIntervalSec: unsupported('faultTolerance.checkpointIntervalSec is not supported: a rank checkpoints when its program calls ctx.checkpoint(state) (kept for recovery: restart); remove the field'),
  recovery: z.enum(['requeue', 'fail', 'restart']).optional(),
  maxRestarts: nonNegativeInt().optional(),
  /** Also retry a job whose rank failed (threw, exited non-zero, broke a limit), not only one whose node went down. */
  retryFailedRanks: z.boolean().optional(),
  /** Runs that coincided with a node going down, or failed the same way in a row, before the job is held (0: never hold). */
  poisonAfter: nonNegativeInt().optional()
}).strict()

/**
 * Queue settings of new jobs: `type`, `capacity` and `encoding` fill what a profile does not
 * write; `maxCapacity` and `encodings` (an allow-list) refuse a job asking for more or other.
 */
export const queuesSchema = z.object({
  type: queueTypeSchema.optional(),
  capacity: positiveInt().optional(),
  encoding: encodingSchema.optional(),
  maxCapacity: positiveInt().optional(),
  encodings: z.array(encodingSchema).min(1).optional()
}).strict()

export const sandboxSchema = z.object({
  driver: z.enum(['process', 'namespace']).optional(),
  poolSize: nonNegativeInt().optional(),
  reuseForSameOwner: z.boolean().optional(),
  defaults: z.object({
    memoryMB: positiveInt().optional(),
    cpu: positiveNumber().optional(),
    wallTimeSec: positiveNumber().optional()
  }).strict().optional()
}).strict()

/** How long the broker keeps finished jobs (`mvm history`); 0 keeps them for ever. */
export const accountingSchema = z.object({
  retentionDays: z.number().min(0).optional()
}).strict()

/**
 * The node's data store: a bounded disk cache of chunks (least recently used files go first,
 * pinned ones never), and inputs up to `prefetchMaxMB` fetched whole before a rank starts
 * (larger ones on demand, unless the profile says which).
 */
export const dataSchema = z.object({
  cacheMB: z.int().min(16).optional(),
  prefetchMaxMB: z.number().min(0).optional()
}).strict()

export const policySections = ['scheduling', 'security', 'monitoring', 'faultTolerance', 'queues', 'sandbox', 'accounting', 'data'] as const
export type PolicySection = (typeof policySections)[number]

/** Paths `enforced` may name: a whole section or one of its fields (maps count as one setting). */
export const enforceablePaths: string[] = (() => {
  const shapes: Record<PolicySection, z.ZodObject> = {
    scheduling: schedulingSchema,
    security: securitySchema,
    monitoring: monitoringSchema,
    faultTolerance: faultToleranceSchema,
    queues: queuesSchema,
    sandbox: sandboxSchema,
    accounting: accountingSchema,
    data: dataSchema
  }
  const out: string[] = []
  for (const [section, schema] of Object.entries(shapes)) {
    out.push(section)
    for (const [f, field] of Object.entries(schema.shape)) if (!(field instanceof z.ZodOptional && field.unwrap() instanceof z.ZodNever)) out.push(`${section}.${f}`)
  }
  out.push('sandbox.defaults.memoryMB', 'sandbox.defaults.cpu', 'sandbox.defaults.wallTimeSec')
  return out
})()

export const policySpecSchema = z.object({
  level: z.enum(['inter-domain', 'domain', 'node']),
  /**
   * Whom the policy applies to: every condition given must hold (groups and nodes: any one of
   * those named; labels: all of them). `domain` names the virtual community and is informational.
   */
  scope: z.object({
    domain: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
    groups: z.array(z.string().min(1)).min(1).optional(),
    node: z.string().min(1).optional(),
    nodes: z.array(z.string().min(1)).min(1).optional(),
    labels: labelsSchema.optional()
  }).strict().optional(),
  enforced: z.array(z.enum(enforceablePaths as [string, ...string[]])).default([]),
  extends: z.string().min(1).optional(),
  scheduling: schedulingSchema.optional(),
  security: securitySchema.optional(),
  monitoring: monitoringSchema.optional(),
  faultTolerance: faultToleranceSchema.optional(),
  queues: queuesSchema.optional(),
  sandbox: sandboxSchema.optional(),
  accounting: accountingSchema.optional(),
  data: dataSchema.optional()
}).strict()

export const policySchema = documentSchema('Policy', policySpecSchema)
export type PolicySpec = z.infer<typeof policySpecSchema>
export type PolicyDocument = z.infer<typeof policySchema>

type Reservation = NonNullable<NonNullable<PolicySpec['scheduling']>['reservations']>[number]
export type AdaptRule = z.infer<typeof adaptRuleSchema>
type Perm = (typeof permissions)[number]

/** The policy a node acts on: every setting present, after merging levels and filling defaults. */
export interface EffectivePolicySpec {
  scheduling: {
    strategy: string
    options: Record<string, unknown>
    waitForCapacity: boolean
    crossGroup: 'allow' | 'forbid'
    crossGroupAfterSec?: number
    rules: AdaptRule[]
    quotas: { maxRunningRanks?: number, maxQueuedJobs?: number, users: Record<string, { maxRunningRanks?: number, maxQueuedJobs?: number }> }
    fairShare: boolean
    reservations: Reservation[]
  }
  security: {
    authentication: 'none' | 'peer-list' | 'domain-key'
    clientAuthentication: 'none' | 'required'
    admittedPeers: string[]
    domainKeyFile?: string
    roles: Record<string, Perm[]>
    subjects: Record<string, string[]>
  }
  monitoring: { intervalSec: number, missedHeartbeats: number, maxChildGroups: number }
  faultTolerance: { recovery: 'requeue' | 'fail' | 'restart', maxRestarts: number, retryFailedRanks: boolean, poisonAfter: number }
  queues: { type: 'fifo' | 'priority', capacity: number, encoding: 'json' | 'protobuf' | 'raw', maxCapacity?: number, encodings?: Array<'json' | 'protobuf' | 'raw'> }
  sandbox: {
    driver: 'process' | 'namespace'
    poolSize: number
    reuseForSameOwner: boolean
    defaults: { memoryMB: number, cpu: number, wallTimeSec: number }
  }
  accounting: { retentionDays: number }
  data: { cacheMB: number, prefetchMaxMB: number }
}

export const DEFAULT_POLICY: EffectivePolicySpec = {
  scheduling: { strategy: 'least-loaded', options: {}, waitForCapacity: false, crossGroup: 'allow', rules: [], quotas: { users: {} }, fairShare: true, reservations: [] },
  security: { authentication: 'none', clientAuthentication: 'none', admittedPeers: [], roles: {}, subjects: {} },
  monitoring: { intervalSec: 5, missedHeartbeats: 3, maxChildGroups: 16 },
  faultTolerance: { recovery: 'requeue', maxRestarts: 3, retryFailedRanks: false, poisonAfter: 2 },
  queues: { type: 'fifo', capacity: 64, encoding: 'json' },
  sandbox: { driver: 'process', poolSize: 2, reuseForSameOwner: true, defaults: { memoryMB: 256, cpu: 1, wallTimeSec: 3600 } },
  accounting: { retentionDays: 30 },
  data: { cacheMB: 4096, prefetchMaxMB: 64 }
}
