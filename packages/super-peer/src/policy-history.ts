/** One applied version of the broker's policy: who changed it, when, what changed, and the applied texts then in force. */
export interface PolicyVersion {
  version: number
  atMs: number
  /** The subject of an ApplyPolicy, `file` for an edited policy file, `group G` for a push from the parent, `restart`. */
  who: string
  /** What the change came from: `ApplyPolicy`, a file path, a parent group's push. */
  origin: string
  /** `path: before -> after` per effective setting that changed. */
  changes: string[]
  /** The applied policies (YAML by level) in force after this version: what a rollback to it restores. */
  applied: Array<[string, string]>
}

/** How many versions are kept (oldest dropped first); each holds its applied texts. */
export const KEPT_VERSIONS = 200

/**
 * Every version the broker's policy went through, newest last, stored with the broker's job
 * store so it outlives a restart (and so versions keep counting up across restarts).
 */
export class PolicyHistory {
  private list: PolicyVersion[] = []
  private save: ((json: string) => void) | undefined

  /** Loads what was stored (unreadable: starts empty) and stores every later version through `save`. */
  use (stored: string | undefined, save: (json: string) => void): void {
    this.save = save
    if (stored === undefined) return
    try {
      const v = JSON.parse(stored) as unknown
      if (Array.isArray(v)) this.list = v.filter((x): x is PolicyVersion => typeof x === 'object' && x !== null && typeof (x as PolicyVersion).version === 'number' && Array.isArray((x as PolicyVersion).applied))
    } catch { this.list = [] }
  }

  get latest (): number { return this.list.at(-1)?.version ?? 0 }

  add (v: PolicyVersion): void {
    this.list = [...this.list, v].slice(-KEPT_VERSIONS)
    this.save?.(JSON.stringify(this.list))
  }

  get (version: number): PolicyVersion | undefined { return this.list.find((v) => v.version === version) }

  /** Newest first, without the applied texts (they can be long). */
  describe (): Array<Omit<PolicyVersion, 'applied'> & { levels: string[] }> {
    return [...this.list].reverse().map(({ applied, ...v }) => ({ ...v, levels: applied.map(([l]) => l) }))
  }
}
