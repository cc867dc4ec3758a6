import type { Submission } from './submission.js'

export interface SubmissionCacheInit {
  /** Most templates kept (default 256). */
  maxEntries?: number
  /** Most bytes of stored bundles kept in all (default 64 MiB); a larger one is not cached. */
  maxBytes?: number
}

/**
 * Validated submissions by content hash, least recently used dropped first: a client that
 * submits the same profile again (the common case: sweeps, benchmarks, retries) skips the
 * temp dir, the YAML parse and the topology expansion. Only successes are kept, so a fixed
 * profile is validated afresh.
 */
export class SubmissionCache {
  private readonly map = new Map<string, Submission>()
  private bytes = 0
  private readonly maxEntries: number
  private readonly maxBytes: number
  hits = 0
  misses = 0

  constructor (init: SubmissionCacheInit = {}) {
    this.maxEntries = Math.max(1, init.maxEntries ?? 256)
    this.maxBytes = Math.max(0, init.maxBytes ?? 64 * 1024 * 1024)
  }

  get size (): number { return this.map.size }

  get (key: string): Submission | undefined {
    const hit = this.map.get(key)
    if (hit === undefined) { this.misses++; return undefined }
    this.hits++
    // re-inserted: a Map iterates in insertion order, so the first key is the least recently used
    this.map.delete(key)
    this.map.set(key, hit)
    return hit
  }

  set (key: string, s: Submission): void {
    const size = s.bundle.byteLength
    if (size > this.maxBytes) return
    const old = this.map.get(key)
    if (old !== undefined) { this.bytes -= old.bundle.byteLength; this.map.delete(key) }
    this.map.set(key, s)
    this.bytes += size
    for (const [k, v] of this.map) {
      if (this.map.size <= this.maxEntries && this.bytes <= this.maxBytes) break
      this.map.delete(k)
      this.bytes -= v.bundle.byteLength
    }
  }
}
