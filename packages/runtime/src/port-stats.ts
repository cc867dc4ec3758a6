/** One port's outgoing traffic in one job, as this node's runtime counted it. */
export interface PortStats { jobId: string, rank: number, port: string, items: number, bytes: number }

/**
 * Items and bytes each local rank sent per port. The router counts what it routes; ranks
 * wired to a local peer by a direct socket count those sends themselves and report totals
 * (`{ stats }`), since that traffic never passes the runtime.
 */
export class PortCounters {
  private readonly routed = new Map<string, { items: number, bytes: number }>()
  private readonly direct = new Map<string, { items: number, bytes: number }>()

  constructor (private readonly jobId: string, private readonly ports: (rank: number) => string[]) {}

  sent (rank: number, port: string, bytes: number): void {
    const key = `${rank}\0${port}`
    const c = this.routed.get(key)
    if (c === undefined) this.routed.set(key, { items: 1, bytes })
    else { c.items++; c.bytes += bytes }
  }

  /** A rank's own totals for its direct sends; only its ports, only finite counts that never go down. */
  reported (rank: number, totals: unknown): void {
    if (totals === null || typeof totals !== 'object') return
    const mine = new Set(this.ports(rank))
    for (const [port, v] of Object.entries(totals as Record<string, unknown>)) {
      if (!mine.has(port) || !Array.isArray(v)) continue
      const [items, bytes] = v as unknown[]
      if (!isCount(items) || !isCount(bytes)) continue
      const key = `${rank}\0${port}`
      const prev = this.direct.get(key)
      if (prev !== undefined && (items < prev.items || bytes < prev.bytes)) continue
      this.direct.set(key, { items, bytes })
    }
  }

  list (): PortStats[] {
    const sum = new Map<string, { items: number, bytes: number }>()
    for (const m of [this.routed, this.direct]) {
      for (const [k, v] of m) {
        const s = sum.get(k)
        if (s === undefined) sum.set(k, { ...v }); else { s.items += v.items; s.bytes += v.bytes }
      }
    }
    return [...sum].map(([k, v]) => {
      const i = k.indexOf('\0')
      return { jobId: this.jobId, rank: Number(k.slice(0, i)), port: k.slice(i + 1), items: v.items, bytes: v.bytes }
    }).sort((a, b) => a.rank - b.rank || (a.port < b.port ? -1 : a.port > b.port ? 1 : 0))
  }
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0
