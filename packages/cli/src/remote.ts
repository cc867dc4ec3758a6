import { readFileSync } from 'node:fs'
import { homedir, userInfo } from 'node:os'
import { join } from 'node:path'
import { createBootstrapClient, createBrokerClient, type BrokerClient, type Credentials } from '@mvm/soap/client'
import { BadRequestError, ConfigError, NotFoundError } from '@mvm/core'
import { followingBroker } from './failover.js'

/** Where a lab started by `mvm lab` serves its bootstrap, so `mvm submit` works with no flags. */
export const DEFAULT_BOOTSTRAP = 'http://127.0.0.1:7700'

export interface BrokerLocation { bootstrap?: string, broker?: string, group?: string, user?: string, token?: string, passwordFile?: string }

/** Where `mvm` looks for saved credentials: $MVM_CREDENTIALS, else ~/.config/mvm/credentials.json. */
export function credentialsFile (): string {
  const env = process.env.MVM_CREDENTIALS
  return env !== undefined && env !== '' ? env : join(homedir(), '.config', 'mvm', 'credentials.json')
}

function readCredentialsFile (file: string, required: boolean): { user?: string, password?: string, token?: string } | undefined {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ConfigError(`${file}: cannot read the credentials file: ${(err as Error).message}`)
  }
  let v: unknown
  try { v = JSON.parse(text) } catch (err) { throw new ConfigError(`${file}: not JSON: ${(err as Error).message}`) }
  const o = v as Record<string, unknown>
  if (typeof v !== 'object' || v === null) throw new ConfigError(`${file}: expected { "user": …, "password": … } or { "token": … }`)
  const out: { user?: string, password?: string, token?: string } = {}
  for (const k of ['user', 'password', 'token'] as const) {
    if (o[k] === undefined) continue
    if (typeof o[k] !== 'string') throw new ConfigError(`${file}: ${k}: expected a string`)
    out[k] = o[k]
  }
  return out
}

/**
 * What the CLI proves itself with, first found wins: `--token` / $MVM_TOKEN (bearer), a password
 * (`--password-file`, $MVM_PASSWORD) for `--user` / $MVM_USER, else the credentials file
 * ({@link credentialsFile}). None: calls go unauthenticated.
 */
export function credentialsOf (o: { user?: string, token?: string, passwordFile?: string }): Credentials | undefined {
  const token = o.token ?? nonEmpty(process.env.MVM_TOKEN)
  if (token !== undefined) return { token }
  let password: string | undefined
  if (o.passwordFile !== undefined) {
    try { password = readFileSync(o.passwordFile, 'utf8').split('\n')[0] } catch (err) { throw new BadRequestError(`--password-file ${o.passwordFile}: ${(err as Error).message}`) }
  }
  password ??= nonEmpty(process.env.MVM_PASSWORD)
  const file = password === undefined ? readCredentialsFile(credentialsFile(), process.env.MVM_CREDENTIALS !== undefined) : undefined
  if (file?.token !== undefined) return { token: file.token }
  password ??= file?.password
  if (password === undefined || password === '') return undefined
  const user = o.user ?? nonEmpty(process.env.MVM_USER) ?? file?.user
  if (user === undefined) throw new BadRequestError('a password needs a user name: --user or $MVM_USER (or "user" in the credentials file)')
  return { user, password }
}

function nonEmpty (v: string | undefined): string | undefined { return v === undefined || v === '' ? undefined : v }

export function bootstrapUrl (o: BrokerLocation): string {
  return o.bootstrap ?? process.env.MVM_BOOTSTRAP ?? DEFAULT_BOOTSTRAP
}

/**
 * Who every command acts for — the job owner of `submit` and the subject of every other
 * Broker request, so a policy that names a user grants them the same rights in every command:
 * `--user`, else $MVM_USER, else the OS account (else $USER, else "anonymous").
 */
export function currentUser (o: { user?: string, token?: string, passwordFile?: string } = {}): string {
  for (const v of [o.user, process.env.MVM_USER]) if (v !== undefined && v !== '') return v
  // signed in: act as the user the credentials prove (a token's user is the broker's to know)
  const c = credentialsOf(o)
  if (c !== undefined && 'user' in c) return c.user
  if (c !== undefined) return ''
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
  const credentials = credentialsOf(o)
  const who = currentUser(o)
  // with a token and no name given, the broker takes the token's user as the subject
  const options = { ...(who !== '' ? { subject: who } : {}), credentials }
  const direct = o.broker ?? process.env.MVM_BROKER
  if (direct !== undefined) return createBrokerClient(direct, options)
  const boot = createBootstrapClient(bootstrapUrl(o), { credentials })
  const req = o.group === undefined ? {} : { group: o.group }
  const locate = async (): Promise<BrokerClient> => {
    const { brokers } = await boot.GetBrokers(req, { signal, timeoutMs: 10_000 })
    const b = brokers.find((x) => o.group === undefined || x.group === o.group)
    if (b === undefined) throw new NotFoundError(`bootstrap ${boot.url} knows no broker${o.group === undefined ? '' : ` for group "${o.group}"`}`)
    return createBrokerClient(b.soapUrl, options)
  }
  return followingBroker(await locate(), locate)
}

export const USER_HELP = 'act as this subject (default $MVM_USER or the OS account); the policy\'s security.subjects grants rights by this name'

export function brokerOptions<T extends { option: (...a: any[]) => T }> (cmd: T): T {
  return cmd
    .option('--bootstrap <url>', `bootstrap node SOAP URL (default $MVM_BOOTSTRAP or ${DEFAULT_BOOTSTRAP})`)
    .option('--broker <url>', 'talk to this broker directly (default $MVM_BROKER)')
    .option('--group <name>', 'peer group whose broker to use')
    .option('--user <name>', USER_HELP)
    .option('--token <token>', 'bearer token (mvm token create; default $MVM_TOKEN)')
    .option('--password-file <file>', 'sign in as --user with the password on this file\'s first line (default $MVM_PASSWORD, else the credentials file)')
}
