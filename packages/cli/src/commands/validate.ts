import type { Command } from 'commander'
import { ValidationError, formatIssue, toMvmError } from '@mvm/core'
import type { Issue } from '@mvm/core'
import { loadFile, mergePolicies } from '@mvm/model'
import type { LoadedPolicy } from '@mvm/model'
import { collectParam, printJson } from '../output.js'

interface ValidateOptions { param: Record<string, string>, json?: boolean }

/**
 * `mvm validate <files...>`: loads each file as the node and broker would (parameters, schema,
 * referenced programs and topologies) and prints every problem as `file:line:col: message`.
 * Policies given together are also merged, and overrides an enforced setting ignores are shown
 * as warnings (they do not fail validation).
 */
export function register (program: Command): void {
  program
    .command('validate')
    .description('check profiles, topologies, policies and node configs; print every problem as file:line:col')
    .argument('<files...>', 'YAML files to check')
    .option('--param <k=v>', 'override a declared parameter (repeatable)', collectParam, {})
    .option('--json', 'print the problems as a JSON array of issues')
    .action(async (files: string[], opts: ValidateOptions) => {
      const issues: Issue[] = []
      const policies: LoadedPolicy[] = []
      for (const file of files) {
        try {
          const doc = await loadFile(file, { params: opts.param })
          if (doc.kind === 'Policy') policies.push(doc)
          if (opts.json !== true) process.stdout.write(`ok ${file} (${doc.kind} ${doc.metadata.name})\n`)
        } catch (err) {
          issues.push(...asIssues(file, err))
        }
      }
      const warnings = policies.length > 1 ? mergePolicies(policies).warnings : []
      if (opts.json === true) {
        printJson(issues)
      } else {
        for (const i of issues) process.stdout.write(formatIssue(i) + '\n')
        for (const w of warnings) process.stdout.write(`${w.file}:${w.line}:${w.column}: ${w.path}: warning: ${w.message}\n`)
      }
      process.exitCode = issues.length > 0 ? 1 : 0
    })
}

function asIssues (file: string, err: unknown): Issue[] {
  if (err instanceof ValidationError) return err.issues
  const e = toMvmError(err)
  return [{ file, line: 1, column: 1, path: '', message: `${e.code}: ${e.message}` }]
}
