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

/** Columns padded to their widest cell, two spaces apart: every table the CLI prints. */
export function formatTable (head: string[], rows: string[][]): string {
  const all = [head, ...rows]
  const w = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  return all.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd()).join('\n') + '\n'
}
