import { createRequire } from 'node:module'
import type cliProgressModule from 'cli-progress'

type CliProgress = typeof cliProgressModule

let loaded: CliProgress | undefined

/** cli-progress, loaded when a bar is first drawn: most CLI calls never draw one. */
export function cliProgress (): CliProgress {
  loaded ??= createRequire(import.meta.url)('cli-progress') as CliProgress
  return loaded
}
