import { createServer } from 'node:net'
import { ConfigError } from '@mvm/core'

/**
 * Fails with a one-line ConfigError when `host:port` cannot be bound, before any node or child
 * process starts: otherwise the EADDRINUSE surfaces as an internal error deep in the SOAP server,
 * with a stack trace, after the node identity was already created. Port 0 (any free port) always passes.
 */
export async function assertPortFree (port: number, host: string, fix: string): Promise<void> {
  if (port === 0) return
  await new Promise<void>((resolve, reject) => {
    const srv = createServer()
    srv.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new ConfigError(`port ${port} is in use (another lab or node?): ${fix}`))
      else if (err.code === 'EACCES') reject(new ConfigError(`port ${port} on ${host} is not allowed for this user: ${fix}`))
      else reject(new ConfigError(`cannot listen on ${host}:${port}: ${err.message}`, { cause: err }))
    })
    srv.listen({ port, host, exclusive: true }, () => { srv.close(() => { resolve() }) })
  })
}
