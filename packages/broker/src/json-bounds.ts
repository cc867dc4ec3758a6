import { BadRequestError } from '@mvm/core'

/** Nesting accepted in JSON a rank sends back (results, checkpoints); matches the YAML bound. */
export const MAX_JSON_DEPTH = 64

/**
 * Parses JSON from a rank after one linear scan for its nesting: JSON.parse recurses per level,
 * so a hostile `[[[[…` result costs stack and time on the super-peer's loop before it fails.
 * `where` names the message in the error.
 */
export function parseBoundedJson (text: string, where: string, maxDepth = MAX_JSON_DEPTH): unknown {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped char
      else if (c === 0x22) inString = false
      continue
    }
    if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) throw new BadRequestError(`${where}: JSON nested deeper than ${maxDepth} levels at offset ${i}`, { data: { maxDepth, offset: i } })
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  try {
    return JSON.parse(text) as unknown
  } catch (e) {
    throw new BadRequestError(`${where}: not JSON (${(e as Error).message})`)
  }
}
