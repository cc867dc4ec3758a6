/**
 * The runtime entry of `@mvm/node` (its types are index.ts's): it limits the young generation
 * before the node's module graph (libp2p, SOAP, schemas) is even parsed, which a static import
 * chain cannot do, then re-exports index.ts's values. Node processes import this package
 * first thing (`mvm node` does so lazily), so a process that only embeds a client never pays.
 */
import { keepYoungGenerationSmall } from './heap.js'

keepYoungGenerationSmall()
const m = await import('./index.js')

export const { createMvmHost, createMvmNode, domainProof, Role, STANDBY_ROLE, REPLICA_PROTOCOL, loadOrCreateKey, loadNodeSettings, lockDataDir, firstFreeDataDir, ChildReportSender, ChildViews, changedEnough, hostSampler } = m
