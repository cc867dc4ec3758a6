import { createBootstrapClient } from '@mvm/soap'
import { NotFoundError, UnavailableError, toMvmError, type Logger } from '@mvm/core'
import type { BootstrapService } from './bootstrap-service.js'

export interface SuperPeerAddress {
  peerId?: string
  multiaddrs: string[]
  soapUrl?: string
}

export function isSoapUrl (addr: string): boolean {
  return /^https?:\/\//i.test(addr)
}

/**
 * Finds the super-peer of a group. A bootstrap given as a SOAP URL is asked GetBrokers; one
 * given as a multiaddr is taken to be the super-peer itself (no lookup: useful without a
 * bootstrap node). A node that is itself the bootstrap asks its own service.
 */
export async function locateSuperPeer (
  group: string,
  bootstraps: string[],
  local: BootstrapService | undefined,
  log: Logger,
  options: { signal?: AbortSignal } = {}
): Promise<SuperPeerAddress> {
  const problems: string[] = []
  if (local !== undefined) {
    const b = local.brokers(group)[0]
    if (b !== undefined) return { peerId: b.peerId, multiaddrs: b.multiaddrs, soapUrl: b.soapUrl }
    problems.push(`local bootstrap: no super-peer registered for group ${group}`)
  }
  for (const addr of bootstraps) {
    if (!isSoapUrl(addr)) return { multiaddrs: [addr] }
    try {
      const res = await createBootstrapClient(addr).GetBrokers({ group }, { signal: options.signal, timeoutMs: 5000 })
      const b = res.brokers.find((x) => x.group === group)
      if (b !== undefined) return { peerId: b.peerId, multiaddrs: b.multiaddrs, soapUrl: b.soapUrl }
      problems.push(`${addr}: no super-peer registered for group ${group}`)
    } catch (e) {
      const err = toMvmError(e)
      log.debug({ bootstrap: addr, code: err.code }, `bootstrap lookup failed: ${err.message}`)
      problems.push(`${addr}: ${err.message}`)
    }
  }
  if (bootstraps.length === 0 && local === undefined) throw new NotFoundError(`no bootstrap address to find the super-peer of group ${group}`)
  throw new UnavailableError(`cannot find the super-peer of group ${group}: ${problems.join('; ')}`)
}
