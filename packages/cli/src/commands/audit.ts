import type { Command } from 'commander'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { BadRequestError, ConfigError } from '@mvm/core'
import { formatTable, printJson, wholeNumber } from '../output.js'

/** One line of a super-peer's `<dataDir>/broker/audit.log` (written by @mvm/super-peer). */
interface AuditEntry { at: string, who: string, how: string, what: string, jobId?: string, from: string, result: string }

function read (file: string): AuditEntry[] {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw new ConfigError(`${file}: cannot read the audit log: ${(err as Error).message}`)
  }
  const out: AuditEntry[] = []
  // a torn last line (the node crashed mid-write) is skipped, not an error
  for (const line of text.split('\n')) { if (line !== '') { try { out.push(JSON.parse(line) as AuditEntry) } catch {} } }
  return out
}

/** `mvm audit`: the super-peer's append-only record of who changed what, and of every refused call. */
export function register (program: Command): void {
  program.command('audit')
    .description('show a super-peer\'s audit log: who did what, when, from where, and the result (changes and refused calls)')
    .option('--data-dir <dir>', 'the super-peer\'s data dir (default $MVM_DATA_DIR)')
    .option('--user <name>', 'only entries of this user')
    .option('--refused', 'only refused calls (E_UNAUTHENTICATED, E_FORBIDDEN)')
    .option('--since <time>', 'only entries at or after this ISO time')
    .option('--limit <n>', 'the last n entries', '100')
    .option('--json', 'machine-readable output')
    .action((o: { dataDir?: string, user?: string, refused?: boolean, since?: string, limit: string, json?: boolean }) => {
      const dir = o.dataDir ?? process.env.MVM_DATA_DIR
      if (dir === undefined || dir === '') throw new BadRequestError('name the super-peer\'s data dir: --data-dir <dir> (or set $MVM_DATA_DIR)')
      const since = o.since === undefined ? undefined : Date.parse(o.since)
      if (since !== undefined && Number.isNaN(since)) throw new BadRequestError(`--since: "${o.since ?? ''}" is not an ISO time such as 2026-01-31T09:00:00Z`)
      const limit = wholeNumber(o.limit, '--limit', 1, 1_000_000)
      const rows = read(join(resolve(dir), 'broker', 'audit.log')).filter((e) =>
        (o.user === undefined || e.who === o.user) &&
        (o.refused !== true || e.result === 'E_UNAUTHENTICATED' || e.result === 'E_FORBIDDEN') &&
        (since === undefined || Date.parse(e.at) >= since)).slice(-limit)
      if (o.json === true) { printJson(rows); return }
      process.stdout.write(rows.length === 0 ? 'no entries\n' : formatTable(['TIME', 'WHO', 'HOW', 'WHAT', 'JOB', 'FROM', 'RESULT'], rows.map((e) => [e.at, e.who, e.how, e.what, e.jobId ?? '', e.from, e.result])))
    })
}
