import type { Command } from 'commander'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { BadRequestError } from '@mvm/core'
import { USERS_FILE, addUser, createToken, readUsers, removeUser, writeUsers } from '@mvm/soap'
import { formatTable, printJson } from '../output.js'

interface FileOpts { dataDir?: string, usersFile?: string }

/** The users file a super-peer reads: `--users-file`, else `<--data-dir>/users.json`, else $MVM_DATA_DIR's. */
export function usersFileOf (o: FileOpts): string {
  if (o.usersFile !== undefined) return resolve(o.usersFile)
  const dir = o.dataDir ?? process.env.MVM_DATA_DIR
  if (dir === undefined || dir === '') throw new BadRequestError('name the super-peer\'s users file: --data-dir <its data dir> or --users-file <file> (or set $MVM_DATA_DIR)')
  return join(resolve(dir), USERS_FILE)
}

const withFile = <T extends { option: (...a: any[]) => T }>(cmd: T): T => cmd
  .option('--data-dir <dir>', 'the super-peer\'s data dir (its users.json; default $MVM_DATA_DIR)')
  .option('--users-file <file>', 'the users file itself')

/** `30s`, `15m`, `8h`, `7d` or plain seconds. */
export function parseDuration (v: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(v)
  if (m === null || Number(m[1]) <= 0) throw new BadRequestError(`${flag}: expected a duration such as 30m, 8h or 7d, got "${v}"`)
  return Number(m[1]) * ({ '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'])
}

function readPasswordStdin (): string {
  const text = readFileSync(0, 'utf8').split('\n')[0] ?? ''
  if (text === '') throw new BadRequestError('--password-stdin: read an empty line')
  return text
}

/** `mvm user add|rm|list` and `mvm token create`: the credentials a super-peer checks SOAP callers against. */
export function register (program: Command): void {
  const user = program.command('user').description('manage the users a super-peer authenticates (its users.json: scrypt-derived keys, never passwords)')
  withFile(user.command('add')
    .description('add a user (or set a new password); prints a generated password unless --password-stdin')
    .argument('<name>', 'user name (the job owner and the subject policies name)')
    .option('--password-stdin', 'read the password from the first line of stdin'))
    .action((name: string, o: FileOpts & { passwordStdin?: boolean }) => {
      const file = usersFileOf(o)
      const data = readUsers(file)
      const generated = o.passwordStdin !== true
      const password = generated ? randomBytes(18).toString('base64url') : readPasswordStdin()
      const existed = Object.hasOwn(data.users, name)
      const key = addUser(data, name, password)
      writeUsers(file, data)
      process.stdout.write(`${existed ? 'updated' : 'added'} user ${name} in ${file}\n`)
      if (generated) process.stdout.write(`password: ${password}\n`)
      process.stdout.write(`soap key: ${key}\n  (the UsernameToken password for clients other than mvm, e.g. zeep or JAX-WS; the mvm CLI takes the password)\n`)
    })
  withFile(user.command('rm')
    .description('remove a user and every token issued to them')
    .argument('<name>', 'user name'))
    .action((name: string, o: FileOpts) => {
      const file = usersFileOf(o)
      const data = readUsers(file)
      removeUser(data, name)
      writeUsers(file, data)
      process.stdout.write(`removed user ${name} from ${file}\n`)
    })
  withFile(user.command('list')
    .description('list the users and how many live tokens each has')
    .option('--json', 'machine-readable output'))
    .action((o: FileOpts & { json?: boolean }) => {
      const data = readUsers(usersFileOf(o))
      const now = Date.now()
      const rows = Object.entries(data.users).sort(([a], [b]) => a.localeCompare(b)).map(([name, u]) => ({
        name,
        createdAt: u.createdAt,
        tokens: Object.values(data.tokens).filter((t) => t.user === name && Date.parse(t.expiresAt) > now).length
      }))
      if (o.json === true) { printJson(rows); return }
      process.stdout.write(rows.length === 0 ? 'no users\n' : formatTable(['USER', 'CREATED', 'TOKENS'], rows.map((r) => [r.name, r.createdAt, String(r.tokens)])))
    })

  const token = program.command('token').description('bearer tokens for the Authorization header')
  withFile(token.command('create')
    .description('issue a bearer token for a user; prints it once (only its hash is kept)')
    .requiredOption('--user <name>', 'the user the token acts for')
    .option('--ttl <duration>', 'lifetime: 30m, 8h, 7d or seconds', '8h'))
    .action((o: FileOpts & { user: string, ttl: string }) => {
      const file = usersFileOf(o)
      const data = readUsers(file)
      const t = createToken(data, o.user, parseDuration(o.ttl, '--ttl'))
      writeUsers(file, data)
      process.stdout.write(`${t.token}\n`)
      process.stderr.write(`token ${t.id} for ${o.user}, expires ${t.expiresAt}\n`)
    })
}
