/**
 * The client side alone (`@mvm/soap/client`): typed clients, the message types and the request
 * helpers, without the SOAP server and its WSDL engine, so a CLI call does not load them.
 */
export * from './types.js'
export { createBootstrapClient, createNodeClient, createBrokerClient, serviceUrl, WAIT_DEFAULT_MS, WAIT_MAX_MS, type Credentials, type ClientOptions } from './client.js'
export { readBundle, writeBundle, safeBundlePath } from './bundle.js'
export { LOG_LIMITS, checkLogsRequest, perStreamBudget, xmlSafe } from './logs-request.js'
export { DATA_CALL_MAX_BYTES, DATA_REQUEST_MAX_BYTES } from './data-limits.js'
