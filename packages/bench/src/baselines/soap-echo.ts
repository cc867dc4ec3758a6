import type { ChildProcess } from 'node:child_process'
import soap from 'soap'
import type { Contender } from '../types.js'
import { startServer, stopAllOf, timedPool } from './helpers.js'

/** node-soap's own minimal Echo service in a plain process, called with node-soap: calls/s. */
export function soapEcho (calls: number, concurrency: number): Contender {
  let server: ChildProcess | undefined
  let client: soap.Client | undefined
  return {
    async setup (signal) {
      const s = await startServer<{ url: string }>('soap-echo', [], signal)
      server = s.child
      client = await soap.createClientAsync(`${s.ready.url}?wsdl`, {}, s.ready.url)
    },
    async sample () {
      const c = client as unknown as { EchoAsync: (a: unknown) => Promise<[{ message: string }]> }
      const ms = await timedPool(calls, concurrency, async (i) => {
        const [r] = await c.EchoAsync({ message: `m${i}` })
        if (r.message !== `m${i}`) throw new Error('echo returned another message')
      })
      return calls / (ms / 1000)
    },
    async teardown () { await stopAllOf(server) }
  }
}
