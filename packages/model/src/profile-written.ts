import { parse } from 'yaml'
import { isPlainObject } from './tree.js'

/**
 * The settings of a profile's `spec.queue` and `spec.resources` its author wrote (dotted, e.g.
 * `queue.capacity`), as opposed to those the schema filled with defaults: a broker fills the
 * unwritten ones from its policy instead. Text that does not parse gives none.
 */
export function writtenJobSettings (profileYaml: string): Set<string> {
  let doc: unknown
  try { doc = parse(profileYaml) } catch { return new Set() }
  const spec = isPlainObject(doc) ? doc.spec : undefined
  if (!isPlainObject(spec)) return new Set()
  const out = new Set<string>()
  for (const section of ['queue', 'resources', 'checkpoint']) {
    const v = spec[section]
    if (isPlainObject(v)) for (const k of Object.keys(v)) out.add(`${section}.${k}`)
  }
  return out
}
