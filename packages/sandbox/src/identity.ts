import { chmod, chown, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { ConfigError } from '@mvm/core'

/** The unprivileged identity a rank runs as when the node is root. */
export interface RunAs { uid: number, gid: number }

/** `nobody` / `nogroup` on Debian-like systems: owns nothing, so a rank as it can signal no node process. */
export const DEFAULT_RUN_AS = 65534

export interface IdentityOptions {
  /**
   * Uid the ranks run as when the node runs as root (default 65534); `false` keeps root's uid
   * (ranks can then signal the node). Ignored when the node is not root: it cannot switch uid.
   */
  runAsUser?: number | false
  /** Gid of the ranks (default: the same number as runAsUser). */
  runAsGroup?: number
}

function checkId (v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0 || v >= 0xffffffff) {
    throw new ConfigError(`sandbox driver option ${field}: ${String(v)} must be an integer uid/gid from 1 to 4294967294 (0 is root, which would let a rank signal the node)`, { data: { field } })
  }
  return v
}

/** Validates the options at driver creation, so a bad config fails at node start. */
export function rankIdentity (options: IdentityOptions = {}): RunAs | undefined {
  if (options.runAsUser === false) return undefined
  const uid = checkId(options.runAsUser ?? DEFAULT_RUN_AS, 'runAsUser')
  const gid = checkId(options.runAsGroup ?? uid, 'runAsGroup')
  if (process.getuid?.() !== 0) return undefined
  return { uid, gid }
}

/**
 * Makes the rank's work dir its own and every directory above it searchable (o+x, not
 * readable): a data dir made by mkdtemp is 0700 and would hide the work dir from the rank.
 * Only the search bit is added; nothing above becomes listable or writable.
 */
export async function prepareForIdentity (workDir: string, as: RunAs): Promise<void> {
  await chown(workDir, as.uid, as.gid)
  for (let dir = dirname(workDir), i = 0; i < 64; dir = dirname(dir), i++) {
    const s = await stat(dir)
    if ((s.mode & 0o001) === 0) await chmod(dir, (s.mode & 0o7777) | 0o001)
    if (dirname(dir) === dir) break
  }
}
