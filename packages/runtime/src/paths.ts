import { existsSync, realpathSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The module every rank's sandbox runs. */
export const rankHostEntry: string = fileURLToPath(new URL('./rank-host.js', import.meta.url))

/** What `'@mvm/job'` in a program is rewritten to. */
export const sdkUrl: string = import.meta.resolve('@mvm/job')

const pkgDir = (spec: string): string => dirname(dirname(fileURLToPath(import.meta.resolve(spec))))

/**
 * Read-only paths a rank host needs besides its entry dir: the SDK and queue packages (and
 * core, which they use), plus the node_modules that holds them and their few dependencies.
 */
export function rankHostReadPaths (): string[] {
  const out = new Set<string>()
  for (const s of ['@mvm/job', '@mvm/queue', '@mvm/core']) out.add(realpathSync(pkgDir(s)))
  let dir = dirname(rankHostEntry)
  for (let i = 0; i < 12; i++) {
    const nm = join(dir, 'node_modules')
    if (existsSync(join(nm, '@mvm', 'job'))) { out.add(nm); break }
    const up = dirname(dir)
    if (up === dir) break
    dir = up
  }
  return [...out]
}
