import { BadRequestError, ValidationError, formatIssue, toMvmError } from '@mvm/core'

/** Prints an error the way every command does: `mvm: E_CODE: message`, issues one per line. */
export function printError (err: unknown): void {
  const e = toMvmError(err)
  if (e instanceof ValidationError) {
    for (const i of e.issues) process.stderr.write(formatIssue(i) + '\n')
    return
  }
  process.stderr.write(`mvm: ${e.code}: ${e.message}\n`)
  if (process.env.MVM_DEBUG !== undefined && e.stack !== undefined) process.stderr.write(e.stack + '\n')
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
