import type { Malleable } from './malleable.js'
import type { InputCheck, ResolvedInput, ResolvedOutput } from './data-files.js'
import type { RankGraph } from './topology/types.js'
import type { Metadata } from './schemas/common.js'
import type { ParamValue } from './params.js'
import type { JobProfileSpec } from './schemas/profile.js'
import type { EffectivePolicySpec, PolicySpec } from './schemas/policy.js'
import type { NodeConfigSpec } from './schemas/node-config.js'
import type { WorkflowSpec } from './schemas/workflow.js'
import type { TopologySpec } from './topology/index.js'

export interface LoadOptions {
  /** Parameter overrides, e.g. from `--param k=v` (strings are coerced to the declared type). */
  params?: Record<string, unknown>
  signal?: AbortSignal
  /**
   * How a profile's local `inputs` are checked: by default they must exist and lie in the
   * profile's folder, the current folder or `allowDirs`; `local: false` (the broker, which has
   * only the profile) leaves them as declared.
   */
  inputs?: InputCheck
}

/** Where a setting was written, for messages that point back at a file. */
export interface SourceLocation { file: string, line: number, column: number }

interface Common {
  /** The file as named by the caller (or the referring file), used in every issue. */
  file: string
  apiVersion: 'mvm/v1'
  metadata: Metadata
  /** Resolved parameter values (defaults overlaid with overrides). */
  params: Record<string, ParamValue>
}

export interface LoadedTopology extends Common {
  kind: 'Topology'
  spec: TopologySpec
  graph: RankGraph
}

export interface ProgramSource {
  /** Absolute path of the program file; absent for inline programs. */
  path?: string
  source: string
  language: 'ts' | 'js'
}

export interface LoadedProfile extends Common {
  kind: 'JobProfile'
  /** `spec.inputs` checked and expanded (a folder gives one entry per file). */
  inputs: ResolvedInput[]
  outputs: ResolvedOutput[]
  /** The validated spec; `processes` is always set (the topology's size when omitted). */
  spec: JobProfileSpec & { processes: number }
  program: ProgramSource
  /** The expanded topology; `file` is absent when the topology was written inline. */
  topology: { graph: RankGraph, file?: string, spec: TopologySpec }
  /** Set for a malleable job (`processes: { min, max }`); `spec.processes` is then `min`. */
  malleable?: Malleable
}

export interface LoadedPolicy extends Common {
  kind: 'Policy'
  /** The spec with any `extends` chain merged underneath it. */
  spec: PolicySpec
  /** Where each setting (dotted path under `spec`, e.g. `security.authentication`) was written. */
  sources: Record<string, SourceLocation>
  /** Where each `enforced` entry was written. */
  enforcedAt: Record<string, SourceLocation>
  /** The files this policy extends, nearest first. */
  extendsFiles: string[]
}

export interface LoadedNodeConfig extends Common {
  kind: 'NodeConfig'
  /** Defaults filled; `dataDir` and `policy` resolved against the config file's folder. */
  spec: NodeConfigSpec
}

/** One step of a loaded workflow: its profile checked with the step's static params. */
export interface WorkflowStep {
  name: string
  /** Absolute path of the step's JobProfile. */
  profileFile: string
  params: Record<string, string>
  after: string[]
  /** param -> [step, ...path into its result] */
  resultParams: Record<string, { step: string, path: string[] }>
  /** Inputs from earlier steps' outputs: placed as `name`, taken from `step`'s output `output`. */
  outputInputs: Array<{ name: string, step: string, output: string }>
  retries: number
  /** Where the step is written (for messages). */
  at: SourceLocation
}

export interface LoadedWorkflow extends Common {
  kind: 'Workflow'
  spec: WorkflowSpec
  /** In a topological order: every step after the steps it comes after. */
  steps: WorkflowStep[]
}

export type MvmDocument = LoadedTopology | LoadedProfile | LoadedPolicy | LoadedNodeConfig | LoadedWorkflow

/** A setting a lower level tried to change although a higher level enforces it. */
export interface PolicyWarning extends SourceLocation { path: string, message: string }

export interface EffectivePolicy {
  spec: EffectivePolicySpec
  /** Which file set each setting that is not a default. */
  sources: Record<string, SourceLocation>
  /** Enforced paths and the policy file that enforces each. */
  enforced: Record<string, SourceLocation>
  warnings: PolicyWarning[]
}
