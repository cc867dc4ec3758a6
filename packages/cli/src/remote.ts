import { createBootstrapClient, createBrokerClient, type BrokerClient } from '@mvm/soap'
import { NotFoundError } from '@mvm/core'

/** Where a lab started by `mvm lab` serves its bootstrap, so `mvm submit` works with no flags. */
export const DEFAULT_BOOTSTRAP = 'http://127.0.0.1:7700'

export interface BrokerLocation { bootstrap?: string, broker?: string, group?: string }

export function bootstrapUrl (o: BrokerLocation): string {
  return o.bootstrap ?? process.env.MVM_BOOTSTRAP ?? DEFAULT_BOOTSTRAP
}

/**
 * The paper's step b: ask the bootstrap node (information service) for the group's broker,
 * unless the caller named the broker directly.
 */
export async function findBroker (o: BrokerLocation, signal?: AbortSignal): Promise<BrokerClient> {
  const direct = o.broker ?? process.env.MVM_BROKER
  if (direct !== undefined) return createBrokerClient(direct)
  const boot = createBootstrapClient(bootstrapUrl(o))
  const req = o.group === undefined ? {} : { group: o.group }
  const { brokers } = await boot.GetBrokers(req, { signal, timeoutMs: 10_000 })
  const b = brokers.find((x) => o.group === undefined || x.group === o.group)
  if (b === undefined) throw new NotFoundError(`bootstrap ${boot.url} knows no broker${o.group === undefined ? '' : ` for group "${o.group}"`}`)
  return createBrokerClient(b.soapUrl)
}

export function brokerOptions<T extends { option: (...a: any[]) => T }> (cmd: T): T {
  return cmd
    .option('--bootstrap <url>', `bootstrap node SOAP URL (default $MVM_BOOTSTRAP or ${DEFAULT_BOOTSTRAP})`)
    .option('--broker <url>', 'talk to this broker directly (default $MVM_BROKER)')
    .option('--group <name>', 'peer group whose broker to use')
}
