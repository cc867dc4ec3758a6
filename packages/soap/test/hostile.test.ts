import t, { type Test } from 'tap'
import { gzipSync } from 'node:zlib'
import { createNodeClient } from '@mvm/soap'
import { envelope, postEnvelope, startAll } from './fixtures.js'

const MAX = 64 * 1024
const server = await startAll({}, MAX)
t.teardown(() => server.close())
const url = server.urlOf('Node')
const node = createNodeClient(server.baseUrl)

/** After every hostile request the node must still answer a normal call. */
async function stillServes (t: Test): Promise<void> {
  t.equal((await node.GetStatus({ timeoutMs: 10_000 })).peerId, '12D3KooWPeerA', 'a normal call succeeds afterwards')
}

function clientFault (t: Test, res: { status: number, text: string }, status: number, code: string, why: RegExp): void {
  t.equal(res.status, status)
  t.match(res.text, /<faultcode>soap:Client<\/faultcode>/)
  t.match(res.text, `<code>${code}</code>`)
  t.match(res.text, why)
}

t.test('garbage and non-XML bodies get a Client fault', async (t) => {
  clientFault(t, await postEnvelope(url, 'hello, not xml'), 400, 'E_BAD_REQUEST', /not XML/)
  clientFault(t, await postEnvelope(url, '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><x:AwakenRequest xmlns:x="urn:mvm:node:v1"><x:jobId></x:AwakenRequest>'), 400, 'E_BAD_REQUEST', /malformed XML/)
  clientFault(t, await postEnvelope(url, new Uint8Array([0x3c, 0xff, 0xfe, 0x00])), 400, 'E_BAD_REQUEST', /not UTF-8/)
  clientFault(t, await postEnvelope(url, ''), 400, 'E_BAD_REQUEST', /empty/)
  clientFault(t, await postEnvelope(url, envelope('<x:Nope xmlns:x="urn:mvm:node:v1"/>')), 400, 'E_BAD_REQUEST', /no operation with request element &quot;Nope&quot;/)
  clientFault(t, await postEnvelope(url, envelope('')), 400, 'E_BAD_REQUEST', /no SOAP Body|no operation/)
  clientFault(t, await postEnvelope(url, envelope('<x:GetStatusRequest xmlns:x="urn:mvm:node:v1"/>'), { SOAPAction: '"urn:mvm:node:v1#Terminate"' }), 400, 'E_BAD_REQUEST', /does not match/)
  clientFault(t, await postEnvelope(url, '<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>'), 400, 'E_BAD_REQUEST', /SOAP 1\.2/)
  // a required field missing is refused with the field named
  clientFault(t, await postEnvelope(url, envelope('<x:AwakenRequest xmlns:x="urn:mvm:node:v1"/>')), 500, 'E_BAD_REQUEST', /Node\.Awaken\.jobId: required/)
  await stillServes(t)
})

t.test('XXE: a DOCTYPE with an external entity is refused unread', async (t) => {
  const xxe = '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n' +
    envelope('<x:AwakenRequest xmlns:x="urn:mvm:node:v1"><x:jobId>&e;</x:jobId></x:AwakenRequest>').replace(/^<\?xml[^>]*>\n/, '')
  const res = await postEnvelope(url, xxe)
  clientFault(t, res, 400, 'E_BAD_REQUEST', /DTDs are not accepted/)
  t.notMatch(res.text, /root:/, 'no file content leaks')
  // lower-case and internal-subset-only variants too
  clientFault(t, await postEnvelope(url, '<!doctype x>' + envelope('<x:GetStatusRequest xmlns:x="urn:mvm:node:v1"/>').replace(/^<\?xml[^>]*>\n/, '')), 400, 'E_BAD_REQUEST', /DTDs/)
  await stillServes(t)
})

t.test('billion laughs is refused', async (t) => {
  let dtd = '<!ENTITY lol "lol">'
  for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`
  const body = `<?xml version="1.0"?><!DOCTYPE lolz [${dtd}]>` +
    envelope('<x:AwakenRequest xmlns:x="urn:mvm:node:v1"><x:jobId>&lol9;</x:jobId></x:AwakenRequest>').replace(/^<\?xml[^>]*>\n/, '')
  clientFault(t, await postEnvelope(url, body), 400, 'E_BAD_REQUEST', /DTDs are not accepted/)
  await stillServes(t)
})

t.test('oversized and compressed bodies are refused before parsing', async (t) => {
  const big = envelope(`<x:AwakenRequest xmlns:x="urn:mvm:node:v1"><x:jobId>${'a'.repeat(MAX + 10)}</x:jobId></x:AwakenRequest>`)
  const res = await postEnvelope(url, big)
  t.equal(res.status, 413)
  t.match(res.text, '<code>E_FRAME_TOO_LARGE</code>')
  // without Content-Length (chunked), the limit applies while reading
  const chunks = new ReadableStream<Uint8Array>({
    start (c) { for (let i = 0; i < 20; i++) c.enqueue(new TextEncoder().encode('<a>' + 'b'.repeat(8192) + '</a>')); c.close() }
  })
  const res2 = await fetch(url, { method: 'POST', body: chunks, duplex: 'half', headers: { 'Content-Type': 'text/xml' } } as RequestInit).catch((e: Error) => e)
  if (res2 instanceof Error) t.pass(`connection closed on the oversized stream (${res2.message})`)
  else t.equal(res2.status, 413, 'chunked oversize refused')
  const gz = gzipSync(Buffer.from(envelope('<x:GetStatusRequest xmlns:x="urn:mvm:node:v1"/>')))
  const res3 = await postEnvelope(url, gz, { 'Content-Encoding': 'gzip' })
  t.equal(res3.status, 415)
  t.match(res3.text, /Content-Encoding &quot;gzip&quot; is not accepted/)
  await stillServes(t)
})

t.test('other paths and methods', async (t) => {
  t.equal((await fetch(server.baseUrl + '/elsewhere')).status, 404)
  t.equal((await fetch(url)).status, 404, 'plain GET without ?wsdl')
  t.equal((await fetch(url, { method: 'PUT', body: 'x' })).status, 405)
  await stillServes(t)
})
