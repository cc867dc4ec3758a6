/** Per-rank logs (`mvm logs`): the Node side reads a peer's log files, the Broker side gathers them by placement. */
export { nodeLogsHandler, runtimeLogDir, readTail, loggedRanks, rankLog, type LogTail } from './logs-node.js'
export { brokerLogsHandler, type BrokerLogsInit, type LoggedJob } from './logs-broker.js'
export { LOG_LIMITS, checkLogsRequest, perStreamBudget, xmlSafe, type LogsQuery } from './logs-request.js'
