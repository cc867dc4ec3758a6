import Table from 'cli-table3'
import { BadRequestError, ValidationError, formatIssue, toMvmError } from '@mvm/core'

/** Prints an error the way every command does: `mvm: E_CODE: message`, issues one per line. */
export function printError (err: unknown): void {
  const e = toMvmError(err)
  if (e instanceof ValidationError) {
    for (const i of e.issues) process.stderr.write(formatIssue(i) + '\n')
    return
  }
  process.stderr.write(`mvm: ${e.code}: ${inFlags(e.message)}\n`)
  if (process.env.MVM_DEBUG !== undefined && e.stack !== undefined) process.stderr.write(e.stack + '\n')
}

/** Request fields as the CLI's flags and arguments name them. */
const FLAG_OF: Record<string, string> = {
  jobId: '<job>', jobIds: '<job>', timeoutMs: '--timeout', limit: '--limit', state: '--state', rank: '--rank',
  maxBytes: '--max-bytes', owner: '--owner', params: '--param', peerId: '<peer>', group: '--group'
}

/**
 * A broker's message says where in the SOAP request it found a problem (`Broker.ListJobs.limit:`,
 * `Broker.GetJobLogs:`); at the shell the user typed flags, so those prefixes become the flag
 * (`--limit:`) or go. Messages without such a prefix pass unchanged.
 */
export function inFlags (message: string): string {
  return message.replace(/^(?:Broker|Node|Policy)\.[A-Za-z]+(?:\.([A-Za-z]+)(?:\.([A-Za-z0-9_]+))?)?(?:\[\d+\])?: /, (_m, field?: string, sub?: string) => {
    if (field === undefined) return ''
    const flag = FLAG_OF[field]
    if (flag === undefined) return ''
    return flag === '--param' && sub !== undefined ? `--param ${sub}: ` : `${flag}: `
  })
}

/** A flag's value as a whole number in [min, max]: a clear error naming the flag otherwise. */
export function wholeNumber (value: string, flag: string, min = 0, max = 1e9): number {
  const n = /^\s*\d{1,10}\s*$/.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new BadRequestError(`${flag} expects a whole number from ${min} to ${max}, got "${value}"`)
  return n
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/** Collects repeated `--param k=v` options into an object; values stay strings (the model coerces). */
export function collectParam (value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=')
  if (eq <= 0) throw new BadRequestError(`--param expects key=value, got "${value}"`)
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) }
}

/** No borders, two spaces between columns: plain text that reads the same on a terminal or piped. */
const BORDERLESS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '',
  middle: '  '
}

/**
 * Every table the CLI prints: columns as wide as their widest cell (by display width, so `…` and
 * `→` count once), two spaces apart, no colours, no trailing blanks. cli-table3 lays it out.
 */
export function formatTable (head: string[], rows: string[][]): string {
  const table = new Table({ head, chars: BORDERLESS, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true } })
  // a cell's newline would start a row of its own: tables hold one line per row
  for (const r of rows) table.push(head.map((_, i) => (r[i] ?? '').replace(/\s*\n\s*/g, ' ')))
  return table.toString().split('\n').map((l) => l.trimEnd()).join('\n') + '\n'
}
