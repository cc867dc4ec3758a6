import { throwIfAborted } from '@mvm/core'

/** A list of parked callers, each woken once; abort removes the caller and rejects it. */
export class Waiters {
  private list: Array<{ wake: () => void }> = []

  get length (): number { return this.list.length }

  async wait (signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal)
    await new Promise<void>((resolve, reject) => {
      const entry = {
        wake: (): void => { signal?.removeEventListener('abort', onAbort); resolve() }
      }
      const onAbort = (): void => {
        const i = this.list.indexOf(entry)
        if (i >= 0) this.list.splice(i, 1)
        try { throwIfAborted(signal) } catch (e) { reject(e) }
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.list.push(entry)
    })
  }

  wakeOne (): void { this.list.shift()?.wake() }

  wakeAll (): void {
    const l = this.list
    this.list = []
    for (const e of l) e.wake()
  }
}
