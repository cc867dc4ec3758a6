/**
 * @packageDocumentation
 * The MVM file formats: Topology, JobProfile, Policy and NodeConfig YAML files. Loading parses
 * YAML keeping positions, substitutes `${param}` references, validates with zod and reports
 * every problem at once as a `ValidationError` whose issues name file, line, column and field.
 * Profiles come back with their program source and expanded topology attached; policies of the
 * three levels merge into one effective policy.
 *
 * @example
 * ```ts
 * import { loadProfile, loadPolicy, mergePolicies, expandArray } from '@mvm/model'
 * const profile = await loadProfile('profiles/primes.yaml', { params: { n: '1000' } })
 * profile.topology.graph.ranks[0].ports // ports of rank 0
 * const jobs = expandArray(profile)     // one profile per array value set
 * const eff = mergePolicies([await loadPolicy('policies/inter-domain.yaml'), await loadPolicy('policies/node.yaml')])
 * eff.spec.scheduling.strategy; eff.warnings // enforced settings a lower level tried to change
 * ```
 */
export { ValidationError } from '@mvm/core'
export type { Issue } from '@mvm/core'
export { loadFile, loadText, loadProfile, loadPolicy, loadTopologyFile, loadNodeConfig, loadWorkflow } from './load.js'
export { workflowSchema, workflowSpecSchema, workflowStepSchema } from './schemas/workflow.js'
export type { WorkflowSpec, WorkflowStepSpec } from './schemas/workflow.js'
export { checkTextBounds, DEFAULT_TEXT_BOUNDS } from './bounds.js'
export type { TextBounds } from './bounds.js'
export { expandArray } from './array.js'
export { checkMalleable, resizeTopology, resizedGraph, RESIZABLE_SHAPES, type Malleable } from './malleable.js'
export { mergePolicies } from './merge.js'
export { writtenJobSettings } from './profile-written.js'
export { mergeTraced, checkReceivedLayer, inScope, namesNodes, type ScopeTarget, type LayerTag, type TaggedPolicy, type FieldOrigin, type TracedPolicy } from './provenance.js'
export type {
  LoadOptions, MvmDocument, LoadedTopology, LoadedProfile, LoadedPolicy, LoadedNodeConfig, LoadedWorkflow, WorkflowStep, EffectivePolicy
} from './types.js'
export { metadataSchema } from './schemas/common.js'
export type { Metadata } from './schemas/common.js'
export { paramsSchema, paramDeclSchema } from './params.js'
export type { ParamsDecl, ParamDecl } from './params.js'
export {
  jobProfileSchema, jobProfileSpecSchema, programSchema, topologyRefSchema, resourcesSchema, queueSchema,
  placementSchema, arraySchema, expectSchema, dependencySchema
} from './schemas/profile.js'
export type { JobProfileSpec, JobProfileDocument, InputSpec, OutputSpec, EnvironmentSpec } from './schemas/profile.js'
export { workDirPath, storedOutputName, ENV_INPUT } from './data-files.js'
export type { ResolvedInput, ResolvedOutput, InputSource, InputCheck } from './data-files.js'
export {
  policySchema, policySpecSchema, schedulingSchema, securitySchema, monitoringSchema, faultToleranceSchema,
  queuesSchema, sandboxSchema, DEFAULT_POLICY, permissions
} from './schemas/policy.js'
export type { PolicySpec, PolicyDocument, EffectivePolicySpec, AdaptRule } from './schemas/policy.js'
export { nodeConfigSchema, nodeConfigSpecSchema } from './schemas/node-config.js'
export type { NodeConfigSpec, NodeConfigDocument } from './schemas/node-config.js'
export { topologySchema } from './topology-file.js'
export * from './topology/index.js'
