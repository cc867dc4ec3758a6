import { createBootstrapClient } from '@mvm/soap'
import { sleep, toMvmError, type Logger } from '@mvm/core'
import type { BootstrapService, Registration } from './bootstrap-service.js'
import { isSoapUrl } from './locator.js'

export interface RegistrarInit {
  registration: () => Registration
  local: BootstrapService | undefined
  bootstraps: string[]
  log: Logger
}

const RETRY_MS = 1000

/**
 * Keeps a super-peer registered with every bootstrap it knows, renewing at a third of the
 * lease so one lost renewal does not drop it. Multiaddr bootstraps are skipped: only the SOAP
 * information service takes registrations.
 */
export class Registrar {
  private readonly lifetime = new AbortController()
  private readonly loops: Array<Promise<void>> = []

  constructor (private readonly init: RegistrarInit) {}

  /** Registers locally at once (so the node is findable when ready); remote ones run in the background. */
  start (): void {
    const { local } = this.init
    if (local !== undefined) this.loops.push(this.keep('local', async () => local.register(this.init.registration()).leaseSec))
    for (const url of this.init.bootstraps.filter(isSoapUrl)) {
      const client = createBootstrapClient(url)
      this.loops.push(this.keep(url, async (signal) => {
        const res = await client.RegisterSuperPeer(this.init.registration(), { signal, timeoutMs: 5000 })
        return res.leaseSec
      }))
    }
  }

  async stop (): Promise<void> {
    this.lifetime.abort()
    await Promise.all(this.loops)
  }

  private async keep (where: string, register: (signal: AbortSignal) => Promise<number>): Promise<void> {
    const signal = this.lifetime.signal
    let registered = false
    while (!signal.aborted) {
      let wait = RETRY_MS
      try {
        const leaseSec = await register(signal)
        if (!registered) this.init.log.info({ bootstrap: where, leaseSec }, 'registered with bootstrap')
        registered = true
        wait = Math.max(200, Math.floor(leaseSec * 1000 / 3))
      } catch (e) {
        if (signal.aborted) break
        registered = false
        this.init.log.warn({ bootstrap: where }, `registration failed (retrying): ${toMvmError(e).message}`)
      }
      try { await sleep(wait, signal) } catch { break }
    }
  }
}
