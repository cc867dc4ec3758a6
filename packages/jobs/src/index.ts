/**
 * @packageDocumentation
 * Jobs end to end on top of the overlay: the super-peer's {@link BrokerAgent} (broker core +
 * membership feed + control-protocol dispatch + the job operations of the Broker WSDL) and the
 * peer's {@link PeerAgent} (runtime loaded on the first Awaken, ranks instantiated, queue
 * streams between nodes, rank reports back to the broker). Both take the node structurally,
 * so `@mvm/node` carries no job machinery until a composition root attaches these.
 * The broker's policy lives in {@link PolicyControl}: its files are watched, `ApplyPolicy`
 * changes it over SOAP, and both switch the scheduling strategy and the authorization of job
 * operations at run time, without a restart.
 *
 * @example
 * ```ts
 * import { createMvmNode } from '@mvm/node'
 * import { BrokerAgent, PeerAgent } from '@mvm/jobs'
 * const node = createMvmNode({ roles: ['bootstrap', 'super-peer'], group: 'lab', dataDir })
 * await node.start()
 * const broker = new BrokerAgent(node, { dataDir, logger, policy, policyFiles: ['policies/domain-lab.yaml'] })
 * await broker.start()
 * await broker.policy.applyYaml(yamlText) // e.g. scheduling.strategy: pack, for the next decision
 * ```
 */
export { BrokerAgent, type BrokerAgentInit, type SuperPeerNode, type MemberLike } from './broker-agent.js'
export { PeerAgent, type PeerAgentInit, type PeerNode } from './peer-agent.js'
export { QueueTransport, type StreamHost } from './queue-link.js'
export { controlDispatcher, type DispatchTarget } from './dispatcher.js'
export { brokerJobHandlers, jobInfo, jobResult } from './broker-soap.js'
export { prepareSubmission, decodeStoredBundle, type Submission } from './submission.js'
export { readBundle, writeBundle, checkBundle, safeBundlePath, bundleDigest, BUNDLE_LIMITS, type BundleFile } from './bundle.js'
export { encodeInstance, decodeInstance, DEFAULT_RESOURCES, type JobInstance, type InstanceTemplate } from './instance.js'
export { authorize, permissionsOf, isOpen, ANONYMOUS, type Permission } from './policy-auth.js'
export { PolicyLayers, rootFiles, APPLIED, type PolicyLayer } from './policy-layers.js'
export { PolicyWatcher, POLICY_DEBOUNCE_MS } from './policy-watch.js'
export { PolicyControl, type PolicyEffects, type PolicyChange } from './policy-control.js'
export { authorized, authorizedJobHandlers, policyHandlers } from './policy-soap.js'
export { nodeLogsHandler, brokerLogsHandler, runtimeLogDir, LOG_LIMITS, type BrokerLogsInit, type LoggedJob } from './logs-api.js'
