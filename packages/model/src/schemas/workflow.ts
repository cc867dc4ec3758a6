import { z } from 'zod'
import { documentSchema, nonNegativeInt, positiveInt } from './common.js'

const stepName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, {
  error: (iss) => `expected a step name of lowercase letters, digits and '-' (e.g. 'split'), got ${JSON.stringify(iss.input)}`
})

const scalar = z.union([z.string(), z.number(), z.boolean()])

/** One node of the DAG: a job profile, run once every step it comes after succeeded. */
export const workflowStepSchema = z.object({
  name: stepName,
  /** A JobProfile file, relative to the workflow file. */
  profile: z.string().min(1),
  /** Given to the profile as `--param k=v` is. */
  params: z.record(z.string(), scalar).optional(),
  /** Steps that must succeed first (DAGMan's PARENT … CHILD). */
  after: z.array(stepName).max(100).optional(),
  /** Profile parameters set from an earlier step's result: `param: step` or `param: step.field.sub`. */
  resultParams: z.record(z.string(), z.string().regex(/^[a-z0-9][a-z0-9-]*(\.[\w-]+)*$/, { error: 'expected a step name, optionally followed by .field paths into its result (e.g. split.total)' })).optional(),
  /**
   * Input files taken from an earlier step's outputs: `name-in-work-dir: step:output`
   * (e.g. `counts.json: count:counts.json`), placed read-only in every rank's work dir.
   */
  outputInputs: z.record(z.string().min(1), z.string().regex(/^[a-z0-9][a-z0-9-]*:.+$/, { error: 'expected step:output (e.g. count:counts.json)' })).optional(),
  /** Runs again after a failure this many times before the step counts as failed (DAGMan's RETRY). */
  retries: nonNegativeInt().max(100).optional()
}).strict()

export const workflowSpecSchema = z.object({
  steps: z.array(workflowStepSchema).min(1).max(1000),
  /** At most this many steps' jobs submitted and not finished at once (default: no bound). */
  maxParallel: positiveInt().optional()
}).strict()

export const workflowSchema = documentSchema('Workflow', workflowSpecSchema)
export type WorkflowStepSpec = z.infer<typeof workflowStepSchema>
export type WorkflowSpec = z.infer<typeof workflowSpecSchema>
