import { watch, type FSWatcher } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { Logger } from '@mvm/core'

export const POLICY_DEBOUNCE_MS = 200

/**
 * Watches policy files for edits. It watches their folders, not the files: editors save by
 * writing a new file and renaming it over the old one, which a watch on the file itself would
 * lose. Bursts of events (one save is often several) are debounced per file.
 */
export class PolicyWatcher {
  private readonly watchers = new Map<string, FSWatcher>()
  private readonly timers = new Map<string, NodeJS.Timeout>()
  /** absolute path → the name the caller uses */
  private names = new Map<string, string>()

  constructor (private readonly onChange: (file: string) => void, private readonly log: Logger, private readonly debounceMs = POLICY_DEBOUNCE_MS) {}

  /** Replaces the set of watched files (a reload can change the `extends` chain). */
  set (files: readonly string[]): void {
    this.names = new Map(files.map((f) => [resolve(f), f]))
    const dirs = new Set([...this.names.keys()].map((f) => dirname(f)))
    for (const [dir, w] of this.watchers) {
      if (!dirs.has(dir)) { w.close(); this.watchers.delete(dir) }
    }
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => { if (name !== null) this.touched(resolve(dir, name.toString())) })
        w.on('error', (err) => { this.log.warn({ dir, err: err.message }, 'policy folder watch failed; edits there are no longer picked up') })
        this.watchers.set(dir, w)
      } catch (err) {
        this.log.warn({ dir, err: (err as Error).message }, 'cannot watch policy folder; edits there will not be picked up')
      }
    }
  }

  close (): void {
    for (const w of this.watchers.values()) w.close()
    this.watchers.clear()
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
  }

  private touched (abs: string): void {
    const name = this.names.get(abs)
    if (name === undefined) return
    clearTimeout(this.timers.get(abs))
    this.timers.set(abs, setTimeout(() => {
      this.timers.delete(abs)
      this.onChange(name)
    }, this.debounceMs).unref())
  }

  /** For messages: the watched file names. */
  watched (): string[] { return [...this.names.values()] }
}
