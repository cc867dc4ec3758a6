import { pathToFileURL } from 'node:url'

/**
 * A server's own folder and the name a client sees it by: `[dataDir, '<data-dir>']`. Clients
 * must not learn where a node keeps its files (nor need to: the path means nothing on theirs).
 */
export type PathAlias = readonly [path: string, shownAs: string]

/**
 * `text` with every server folder of `aliases` (as a path or a file: URL) replaced by its alias.
 * The longest folder goes first, so a job's work dir inside the data dir keeps its own alias.
 */
export function hidePaths (text: string, aliases: readonly PathAlias[]): string {
  const sorted = aliases.filter(([p]) => p.length > 1).sort((a, b) => b[0].length - a[0].length)
  let out = text
  for (const [path, shownAs] of sorted) {
    const bare = path.replace(/\/+$/, '')
    out = out.split(pathToFileURL(bare).href).join(shownAs).split(bare).join(shownAs)
  }
  return out
}
