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
export function wsdlText (service: ServiceName, endpointUrl: string): string {
  let url: URL
  try { url = new URL(endpointUrl) } catch { throw new BadRequestError(`endpoint URL "${endpointUrl}" is not a valid URL`) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequestError(`endpoint URL "${endpointUrl}" must be http(s)`)
  const escaped = url.href.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
  return wsdlFile(service).replace(ADDRESS_RE, (_m, a: string, b: string) => a + escaped + b)
}

/** Where a service is mounted on a node's HTTP server. */
export function servicePath (service: ServiceName): string {
  return `/mvm/${service}`
}
