import { userInfo } from 'node:os'
import { createBootstrapClient, createBrokerClient, type BrokerClient } from '@mvm/soap'
import { NotFoundError } from '@mvm/core'

/** Where a lab started by `mvm lab` serves its bootstrap, so `mvm submit` works with no flags. */
export const DEFAULT_BOOTSTRAP = 'http://127.0.0.1:7700'

export interface BrokerLocation { bootstrap?: string, broker?: string, group?: string, user?: string }

export function bootstrapUrl (o: BrokerLocation): string {
  return o.bootstrap ?? process.env.MVM_BOOTSTRAP ?? DEFAULT_BOOTSTRAP
}

/**
 * Who every command acts for — the job owner of `submit` and the subject of every other
 * Broker request, so a policy that names a user grants them the same rights in every command:
 * `--user`, else $MVM_USER, else the OS account (else $USER, else "anonymous").
 */
export function currentUser (o: { user?: string } = {}): string {
  for (const v of [o.user, process.env.MVM_USER]) if (v !== undefined && v !== '') return v
  try {
    const name = userInfo().username
    if (name !== '') return name
  } catch { /* no passwd entry for this uid (e.g. some containers) */ }
  const env = process.env.USER
  return env !== undefined && env !== '' ? env : 'anonymous'
}

/**
 * The paper's step b: ask the bootstrap node (information service) for the group's broker,
 * unless the caller named the broker directly. The client sends {@link currentUser} as the subject.
 */
export async function findBroker (o: BrokerLocation, signal?: AbortSignal): Promise<BrokerClient> {
  const subject = currentUser(o)
  const direct = o.broker ?? process.env.MVM_BROKER
  if (direct !== undefined) return createBrokerClient(direct, { subject })
  const boot = createBootstrapClient(bootstrapUrl(o))
  const req = o.group === undefined ? {} : { group: o.group }
  const { brokers } = await boot.GetBrokers(req, { signal, timeoutMs: 10_000 })
  const b = brokers.find((x) => o.group === undefined || x.group === o.group)
  if (b === undefined) throw new NotFoundError(`bootstrap ${boot.url} knows no broker${o.group === undefined ? '' : ` for group "${o.group}"`}`)
  return createBrokerClient(b.soapUrl, { subject })
}

export const USER_HELP = 'act as this subject (default $MVM_USER or the OS account); the policy\'s security.subjects grants rights by this name'

export function brokerOptions<T extends { option: (...a: any[]) => T }> (cmd: T): T {
  return cmd
    .option('--bootstrap <url>', `bootstrap node SOAP URL (default $MVM_BOOTSTRAP or ${DEFAULT_BOOTSTRAP})`)
    .option('--broker <url>', 'talk to this broker directly (default $MVM_BROKER)')
    .option('--group <name>', 'peer group whose broker to use')
    .option('--user <name>', USER_HELP)
}
