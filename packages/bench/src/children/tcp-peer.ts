// Raw TCP baseline, both ends. `server`: listens on 127.0.0.1 and prints its port.
// `client <port>` (forked): answers {cmd:'latency', n} in µs one way and {cmd:'bandwidth', n} in MB/s.
import { createServer, connect, type Socket } from 'node:net'
import { once } from 'node:events'
import { CHUNK, ECHO, SMALL, serverSession, sinkHeader } from './wire-proto.js'

if (process.argv[2] === 'server') {
  const server = createServer((sock) => {
    sock.setNoDelay(true)
    const feed = serverSession()
    sock.on('data', (d) => { const r = feed(d); if (r !== null) sock.write(r) })
    sock.on('error', () => { sock.destroy() })
  })
  server.listen(0, '127.0.0.1', () => {
    const a = server.address()
    process.stdout.write(JSON.stringify({ event: 'ready', port: typeof a === 'object' && a !== null ? a.port : 0 }) + '\n')
  })
  process.on('SIGTERM', () => { process.exit(0) })
} else {
  const port = Number(process.argv[3])
  const open = async (): Promise<Socket> => {
    const s = connect({ port, host: '127.0.0.1', noDelay: true })
    await once(s, 'connect')
    return s
  }
  const readBytes = async (s: Socket, n: number): Promise<void> => {
    let got = 0
    while (got < n) {
      const chunk = s.read() as Buffer | null
      if (chunk === null) { await once(s, 'readable'); continue }
      got += chunk.length
    }
  }
  let echo: Socket | undefined
  const latency = async (n: number): Promise<number> => {
    if (echo === undefined) { echo = await open(); echo.write(Buffer.from([ECHO])) }
    const msg = Buffer.alloc(SMALL, 7)
    const t0 = performance.now()
    for (let i = 0; i < n; i++) { echo.write(msg); await readBytes(echo, SMALL) }
    return (performance.now() - t0) * 1000 / (2 * n)
  }
  const bandwidth = async (n: number): Promise<number> => {
    const s = await open()
    const chunk = Buffer.alloc(CHUNK, 1)
    const t0 = performance.now()
    s.write(sinkHeader(n * CHUNK))
    for (let i = 0; i < n; i++) { if (!s.write(chunk)) await once(s, 'drain') }
    await readBytes(s, 1)
    const ms = performance.now() - t0
    s.destroy()
    return (n * CHUNK) / 1e6 / (ms / 1000)
  }
  process.on('message', (m: { id: string, cmd: string, n: number }) => {
    const f = m.cmd === 'latency' ? latency : bandwidth
    f(m.n).then((value) => { process.send!({ id: m.id, value }) }, (err: Error) => { process.send!({ id: m.id, error: err.message }) })
  })
  process.on('disconnect', () => { process.exit(0) })
  process.send!({ ready: true })
}
