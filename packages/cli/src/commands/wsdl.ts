import type { Command } from 'commander'
import { BadRequestError, ProtocolError, UnavailableError } from '@mvm/core'
import { PLACEHOLDER_HOST, isServiceName, serviceUrl, servicePath, wsdlText } from '@mvm/soap'

const FETCH_TIMEOUT_MS = 10_000

/** `mvm wsdl <Bootstrap|Node|Broker> [--node URL]`: the contract, from the repo or from a live node. */
export function register (program: Command): void {
  program
    .command('wsdl')
    .description('print a service WSDL: the repo copy (placeholder endpoint), or the one a node serves')
    .argument('<service>', 'Bootstrap, Node or Broker')
    .option('--node <url>', 'fetch <url>?wsdl from this node (its base URL or the service URL)')
    .action(async (service: string, opts: { node?: string }) => {
      if (!isServiceName(service)) throw new BadRequestError(`unknown service "${service}": expected Bootstrap, Node or Broker`)
      if (opts.node === undefined) {
        process.stdout.write(wsdlText(service, PLACEHOLDER_HOST + servicePath(service)))
        return
      }
      const url = serviceUrl(service, opts.node) + '?wsdl'
      let res: Response
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) })
      } catch (err) {
        throw new UnavailableError(`cannot fetch ${url}: ${(err as Error).message}`, { cause: err })
      }
      const text = await res.text()
      if (res.status === 404) throw new UnavailableError(`${opts.node} does not serve the ${service} service (HTTP 404 for ${url})`)
      if (!res.ok || !text.includes('<wsdl:definitions')) throw new ProtocolError(`${url} answered HTTP ${res.status} without a WSDL`)
      process.stdout.write(text.endsWith('\n') ? text : text + '\n')
    })
}
