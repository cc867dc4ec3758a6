import { readFileSync } from 'node:fs'
import { BadRequestError, NotFoundError } from '@mvm/core'
import { ServiceName } from './types.js'

/** The contracts live in the package (wsdl/*.wsdl), next to dist/ and src/. */
const WSDL_DIR = new URL('../wsdl/', import.meta.url)

/** The endpoint the repo's files carry; `mvm wsdl` without --node prints it as is. */
export const PLACEHOLDER_HOST = 'http://mvm-node.invalid:7070'

const ADDRESS_RE = /(<soap:address\s+location=")[^"]*(")/g
const cache = new Map<ServiceName, string>()

export function isServiceName (s: string): s is ServiceName {
  return Object.hasOwn(ServiceName, s)
}

/** The WSDL file of a service exactly as kept in the repo. */
export function wsdlFile (service: ServiceName): string {
  if (!isServiceName(service)) throw new NotFoundError(`unknown SOAP service "${String(service)}" (expected Bootstrap, Node or Broker)`)
  let text = cache.get(service)
  if (text === undefined) {
    text = readFileSync(new URL(`${service}.wsdl`, WSDL_DIR), 'utf8')
    cache.set(service, text)
  }
  return text
}

/**
 * The WSDL of a service with `soap:address` set to `endpointUrl`. node-soap serves WSDL
 * verbatim, so this text is what clients see: it must carry the node's real endpoint.
 */
export function wsdlText (service: ServiceName, endpointUrl: string, options: { security?: SecurityDeclaration } = {}): string {
  let url: URL
  try { url = new URL(endpointUrl) } catch { throw new BadRequestError(`endpoint URL "${endpointUrl}" is not a valid URL`) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequestError(`endpoint URL "${endpointUrl}" must be http(s)`)
  const escaped = url.href.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
  const text = wsdlFile(service).replace(ADDRESS_RE, (_m, a: string, b: string) => a + escaped + b)
  return options.security === undefined || options.security === 'none' ? text : withSecurityPolicy(text, options.security)
}

/** What a served WSDL says about credentials: nothing, a UsernameToken it accepts, or one it requires. */
export type SecurityDeclaration = 'none' | 'optional' | 'required'

export const POLICY_ID = 'MvmUsernameToken'

/**
 * WS-SecurityPolicy 1.2: a UsernameToken (hashed password, WSS 1.0) as a supporting token of
 * every operation, so generated clients know to send one. `optional` marks the assertion
 * wsp:Optional: clients may send it (and are then held to it) or not. A bearer token in the
 * HTTP Authorization header is the alternative the README describes; WS-Policy has no
 * standard assertion for it.
 */
function withSecurityPolicy (text: string, mode: 'optional' | 'required'): string {
  const optional = mode === 'optional' ? ' wsp:Optional="true"' : ''
  const policy = `
  <wsp:Policy wsu:Id="${POLICY_ID}" xmlns:wsp="http://www.w3.org/ns/ws-policy" xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
    <sp:SupportingTokens${optional}>
      <wsp:Policy>
        <sp:UsernameToken sp:IncludeToken="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/IncludeToken/AlwaysToRecipient">
          <wsp:Policy><sp:HashPassword/><sp:WssUsernameToken10/></wsp:Policy>
        </sp:UsernameToken>
      </wsp:Policy>
    </sp:SupportingTokens>
  </wsp:Policy>`
  const ref = `
    <wsp:PolicyReference URI="#${POLICY_ID}" xmlns:wsp="http://www.w3.org/ns/ws-policy"/>`
  return text
    .replace(/(<wsdl:definitions\b[^>]*>)/, (m) => m + policy)
    .replace(/(<wsdl:binding\b[^>]*>)/, (m) => m + ref)
}

/** Where a service is mounted on a node's HTTP server. */
export function servicePath (service: ServiceName): string {
  return `/mvm/${service}`
}
