import t from 'tap'
import { connect } from 'node:net'
import { createNodeClient } from '@mvm/soap'
import { startAll } from './fixtures.js'

const MAX = 64 * 1024
const server = await startAll({}, MAX)
t.teardown(() => server.close())
const node = createNodeClient(server.baseUrl)

interface Exchange { status: number | null, response: string, writeError: string | null }

/**
 * A client like Python's http.client: it writes the whole request (headers and body) before it
 * reads a byte of the answer. Bounded by a socket timeout, so a server that neither reads nor
 * replies ends the test instead of hanging it.
 */
async function writeAllThenRead (bodyBytes: number, chunked: boolean): Promise<Exchange> {
  const { port } = new URL(server.baseUrl)
  const sock = connect(Number(port), '127.0.0.1')
  sock.setTimeout(120_000)
  let writeError: string | null = null
  let response = ''
  sock.on('data', (d: Buffer) => { response += d.toString('latin1') })
  const closed = new Promise<void>((resolve) => {
    sock.once('close', () => { resolve() })
    sock.once('timeout', () => { sock.destroy() })
  })
  sock.on('error', (e) => { writeError ??= e.message })
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject) })
  const head = ['POST /mvm/Node HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: text/xml; charset=utf-8',
    chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${bodyBytes}`, '', ''].join('\r\n')
  const write = async (b: Buffer | string): Promise<void> => {
    if (sock.destroyed) return
    if (!sock.write(b)) await new Promise<void>((resolve) => { sock.once('drain', resolve); sock.once('close', resolve) })
  }
  await write(head)
  const piece = Buffer.alloc(1024 * 1024, 'a')
  for (let sent = 0; sent < bodyBytes && !sock.destroyed; sent += piece.length) {
    await write(chunked ? Buffer.concat([Buffer.from(piece.length.toString(16) + '\r\n'), piece, Buffer.from('\r\n')]) : piece)
  }
  if (chunked) await write('0\r\n\r\n')
  await closed
  const m = /^HTTP\/1\.1 (\d{3})/.exec(response)
  return { status: m === null ? null : Number(m[1]), response, writeError }
}

t.test('a 64 MiB body gets its 413 even when the client writes it all before reading', async (t) => {
  for (const chunked of [false, true]) {
    const r = await writeAllThenRead(64 * 1024 * 1024, chunked)
    t.equal(r.writeError, null, `${chunked ? 'chunked' : 'Content-Length'}: no reset while writing`)
    t.equal(r.status, 413, `${chunked ? 'chunked' : 'Content-Length'}: 413 received`)
    t.match(r.response, '<code>E_FRAME_TOO_LARGE</code>')
  }
  t.equal((await node.GetStatus({ timeoutMs: 10_000 })).peerId, '12D3KooWPeerA', 'the server still serves')
})
