import { z } from 'zod'
import { topologySpecSchema } from '../topology/index.js'
import { documentSchema, encodingSchema, labelsSchema, positiveInt, positiveNumber, queueTypeSchema } from './common.js'

const scalar = z.union([z.number(), z.string(), z.boolean()])

export const programSchema = z.union([
  z.string().min(1),
  z.object({ inline: z.string().min(1), language: z.enum(['ts', 'js']) }).strict()
])

export const topologyRefSchema = z.union([
  z.string().min(1),
  z.object({ file: z.string().min(1), params: z.record(z.string(), scalar).optional() }).strict(),
  topologySpecSchema
])

export const resourcesSchema = z.object({
  memoryMB: positiveInt(),
  cpu: positiveNumber(),
  wallTimeSec: positiveNumber(),
  cpuTimeSec: positiveNumber().optional()
}).strict()

export const queueSchema = z.object({
  type: queueTypeSchema.default('fifo'),
  capacity: positiveInt().default(64),
  encoding: encodingSchema.default('json')
}).strict()

export const placementSchema = z.object({
  group: z.string().min(1).optional(),
  labels: labelsSchema.optional(),
  strategy: z.enum(['spread', 'pack']).optional(),
  nodes: z.array(z.string().min(1)).optional()
}).strict()

/** A parameter sweep: explicit value sets, or the cartesian product of a matrix. */
export const arraySchema = z.union([
  z.object({ values: z.array(z.record(z.string(), z.unknown())).min(1) }).strict(),
  z.object({ matrix: z.record(z.string(), z.array(z.unknown()).min(1)) }).strict()
])

/**
 * What a correct run returns (the job's result: rank 0's return value). `mvm lab` and the
 * tests check samples against it; numbers may differ by `tolerance`.
 */
export const expectSchema = z.object({
  result: z.unknown(),
  tolerance: z.number().nonnegative().optional()
}).strict()

/**
 * A job that must end first: `{ job, type }` (job: a job id, a unique prefix of one, or a job
 * name, the latest of that name), or the short form `afterok:j-12` (`j-12` alone: afterok).
 * The broker resolves and checks the jobs at submit.
 */
export const dependencySchema = z.union([
  z.string().min(1),
  z.object({ job: z.string().min(1), type: z.enum(['afterok', 'afterany', 'afternotok']).default('afterok') }).strict()
])

/** How a rank gets an input: the whole file before it starts, or only the ranges it reads. */
export const inputModeSchema = z.enum(['prefetch', 'onDemand'])

/** A content id: the hex sha256 of a file's manifest (see @mvm/data). */
export const contentIdSchema = z.string().regex(/^[0-9a-f]{64}$/, 'expected a content id (64 lowercase hex digits, as `mvm data put` prints)')

/**
 * A job input, placed read-only in every rank's work dir under `as`: a file or folder of the
 * submitter (relative to the profile), a file already in the lab's store by content id, or a
 * named output of an earlier job (which then becomes an `afterok` dependency).
 */
export const inputSchema = z.union([
  z.string().min(1),
  z.object({ path: z.string().min(1), as: z.string().min(1).optional(), mode: inputModeSchema.optional() }).strict(),
  z.object({ id: contentIdSchema, as: z.string().min(1), mode: inputModeSchema.optional() }).strict(),
  z.object({
    from: z.object({ job: z.string().min(1), output: z.string().min(1) }).strict(),
    as: z.string().min(1).optional(),
    mode: inputModeSchema.optional()
  }).strict()
])

/**
 * A file a rank leaves in its work dir, stored after the job succeeds. By default rank 0's;
 * with `ranks`, each listed rank's (or every rank's) copy, stored as `rank-<r>/<path>`.
 */
export const outputSchema = z.union([
  z.string().min(1),
  z.object({
    path: z.string().min(1),
    ranks: z.union([z.literal('all'), z.array(z.int().nonnegative()).min(1)]).optional()
  }).strict()
])

/**
 * A golden environment, built once per group and hard-linked into every rank's work dir:
 * `npm`: a folder with package.json and package-lock.json (`npm ci` runs once, keyed by the
 * lockfile's hash; local `file:` tarballs beside them are taken along), or `{ packages: { name:
 * version } }` (`npm install` of that list runs once, keyed by the sorted list's hash; a
 * `file:` version names a tarball relative to the profile); `folder`: a folder
 * (e.g. a prepared node_modules) taken as it is.
 */
const NPM_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/

export const npmPackagesSchema = z.record(z.string(), z.string().trim().min(1, 'a version, a range or file:<tarball>').max(256))
  .superRefine((r, ctx) => {
    const names = Object.keys(r)
    if (names.length < 1 || names.length > 256) ctx.addIssue({ code: 'custom', message: `name 1 to 256 packages, not ${names.length}` })
    for (const n of names) {
      if (n.length > 214 || !NPM_NAME.test(n)) ctx.addIssue({ code: 'custom', path: [n], message: `"${n}" is not an npm package name (lowercase, optionally @scope/name)` })
    }
  })

export const environmentSchema = z.union([
  z.object({ npm: z.union([z.string().min(1), z.object({ packages: npmPackagesSchema }).strict()]) }).strict(),
  z.object({ folder: z.string().min(1) }).strict()
])

export const jobProfileSpecSchema = z.object({
  program: programSchema,
  topology: topologyRefSchema,
  // a number, or the bounds of a malleable job (see malleable.ts)
  processes: z.union([
    positiveInt(),
    z.object({ min: positiveInt(), max: positiveInt(), auto: z.boolean().default(true) }).strict()
  ]).optional(),
  params: z.record(z.string(), z.unknown()).default({}),
  resources: resourcesSchema.optional(),
  queue: queueSchema.prefault({}),
  placement: placementSchema.optional(),
  priority: z.int().default(0),
  /** Run in this reservation's held slots (policy `scheduling.reservations`): only there, only during its window. */
  reservation: z.string().min(1).optional(),
  // coordinated: ctx.checkpoint() is a point every rank passes in step and stored states are
  // consistent cuts with the messages in flight; rank: each rank's own latest state
  checkpoint: z.object({ intervalSec: positiveNumber(), mode: z.enum(['rank', 'coordinated']).default('rank') }).strict().optional(),
  array: arraySchema.optional(),
  dependsOn: z.array(dependencySchema).optional(),
  inputs: z.array(inputSchema).max(256).optional(),
  outputs: z.array(outputSchema).max(256).optional(),
  environment: environmentSchema.optional(),
  expect: expectSchema.optional()
}).strict()

export const jobProfileSchema = documentSchema('JobProfile', jobProfileSpecSchema)
export type JobProfileSpec = z.infer<typeof jobProfileSpecSchema>
export type InputSpec = z.infer<typeof inputSchema>
export type OutputSpec = z.infer<typeof outputSchema>
export type EnvironmentSpec = z.infer<typeof environmentSchema>
export type JobProfileDocument = z.infer<typeof jobProfileSchema>
