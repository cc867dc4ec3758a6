/**
 * @packageDocumentation
 * `@mvm/super-peer/internal`: what this package's own tests use beyond its public API (the
 * `Broker.GetJobLogs` handler on its own, which `createSuperPeerRole` mounts).
 * Not part of the public API: it may change without notice.
 */
export { brokerLogsHandler, type LoggedJob } from './logs-broker.js'
