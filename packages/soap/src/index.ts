/**
 * @packageDocumentation
 * The SOAP face of an MVM node: three contract-first WSDL 1.1 files (wsdl/Bootstrap.wsdl,
 * Node.wsdl, Broker.wsdl; SOAP 1.1 document/literal, one namespace each), a server that
 * mounts them on one HTTP port behind a filter for untrusted XML (size bound, no DTDs,
 * garbage refused with a Client fault), typed clients, and MvmErrors carried as SOAP faults
 * with the stable code in `<detail><MvmFault><code>`.
 *
 * @example
 * ```ts
 * import { startSoapServer, createNodeClient } from '@mvm/soap'
 * const server = await startSoapServer({
 *   services: { Node: { GetStatus: async () => status(), Awaken: async ({ jobId }) => ({ ok: true }) } }
 * })
 * const node = createNodeClient(server.baseUrl)        // or server.urlOf('Node')
 * const s = await node.GetStatus({ timeoutMs: 5000 })
 * await server.close()
 * ```
 */
export * from './types.js'
export { startSoapServer, type SoapServer, type SoapServerInit, type HttpRouteHandler } from './server.js'
export type { SoapCallObservation, SoapCallObserver, SoapCallAccess, SoapAuthorize } from './service.js'
export { createBootstrapClient, createNodeClient, createBrokerClient, serviceUrl, WAIT_DEFAULT_MS, WAIT_MAX_MS } from './client.js'
export { wsdlText, wsdlFile, isServiceName, servicePath, PLACEHOLDER_HOST, POLICY_ID, type SecurityDeclaration } from './wsdl.js'
export { createAuthenticator, type Authenticate, type AuthenticateAsync, type AuthenticatorInit, type AuthInput } from './auth/authenticate.js'
export {
  USERS_FILE, SCRYPT, deriveKey, readUsers, writeUsers, parseUsers, addUser, removeUser, createToken, usersSource,
  checkUserName, emptyUsers, type UsersData, type UserRecord, type TokenRecord
} from './auth/users.js'
export { type Credentials, type ClientOptions } from './client.js'
export { readBundle, writeBundle, safeBundlePath } from './bundle.js'
export { LOG_LIMITS, checkLogsRequest, perStreamBudget, xmlSafe } from './logs-request.js'
export { DATA_CALL_MAX_BYTES, DATA_REQUEST_MAX_BYTES } from './data-limits.js'
