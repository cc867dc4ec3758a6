/**
 * @packageDocumentation
 * `@mvm/super-peer/internal`: what this package's own tests use beyond its public API (the
 * `Broker.GetJobLogs` handler on its own, which `createSuperPeerRole` mounts; the job handlers
 * with their submission cache and long-poll waiters).
 * Not part of the public API: it may change without notice.
 */
export { brokerLogsHandler, type LoggedJob } from './logs-broker.js'
export { brokerJobHandlers, jobResult, MAX_BATCH } from './broker-soap.js'
export { SubmissionCache } from './submission-cache.js'
export { JobWaiters } from './job-waiters.js'
export { prepareSubmission, submissionKey } from './submission.js'
