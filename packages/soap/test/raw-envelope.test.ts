import t from 'tap'
import { envelope, postEnvelope, startAll } from './fixtures.js'

// The independent client: envelopes written by hand the way Java (JAX-WS), .NET and zeep
// write them (their own prefixes, qualified children, SOAPAction header), responses read as text.
const server = await startAll()
t.teardown(() => server.close())

/** The text of the first element with this local name, whatever its prefix. */
function textOf (xml: string, local: string): string | undefined {
  return new RegExp(`<(?:[\\w.-]+:)?${local}(?:\\s[^>]*)?>([^<]*)</(?:[\\w.-]+:)?${local}>`).exec(xml)?.[1]
}

/** The namespace the response element is in: declared on it as default or via its prefix. */
function namespaceOf (xml: string, local: string): string | undefined {
  const m = new RegExp(`<(?:([\\w.-]+):)?${local}((?:\\s[^>]*)?)>`).exec(xml)
  if (m === null) return undefined
  const prefix = m[1]
  const decl = prefix === undefined ? /xmlns="([^"]*)"/ : new RegExp(`xmlns:${prefix}="([^"]*)"`)
  return decl.exec(m[2] ?? '')?.[1] ?? decl.exec(xml)?.[1]
}

t.test('JAX-WS style: prefixed, qualified children, quoted SOAPAction', async (t) => {
  const body = envelope('<mvm:GetNodeRequest><mvm:peerId>12D3KooWPeerA</mvm:peerId></mvm:GetNodeRequest>', ' xmlns:mvm="urn:mvm:broker:v1"')
  const res = await postEnvelope(server.urlOf('Broker'), body, { SOAPAction: '"urn:mvm:broker:v1#GetNode"' })
  t.equal(res.status, 200)
  t.equal(namespaceOf(res.text, 'GetNodeResponse'), 'urn:mvm:broker:v1', 'response wrapper in the WSDL namespace')
  t.equal(textOf(res.text, 'peerId'), '12D3KooWPeerA')
  t.equal(textOf(res.text, 'lastSeen'), '2024-05-01T10:00:00.000Z')
  // schema order: the sequence in the XSD, which strict deserialisers require
  const order = ['peerId', 'group', 'roles', 'state', 'load', 'totalSlots', 'freeSlots', 'freeMemoryMB', 'processes', 'queueDepth', 'lastSeen', 'labels', 'soapUrl']
  const positions = order.map((n) => res.text.search(new RegExp(`<(?:[\\w.-]+:)?${n}>`)))
  t.ok(positions.every((p) => p > 0), 'every NodeInfo element present')
  t.same([...positions].sort((a, b) => a - b), positions, 'elements in XSD sequence order')
})

t.test('.NET style: default namespace on the wrapper, bare SOAPAction', async (t) => {
  const body = envelope('<TerminateRequest xmlns="urn:mvm:node:v1"><jobId>job-9</jobId></TerminateRequest>')
  const res = await postEnvelope(server.urlOf('Node'), body, { SOAPAction: 'urn:mvm:node:v1#Terminate' })
  t.equal(res.status, 200)
  t.equal(namespaceOf(res.text, 'TerminateResponse'), 'urn:mvm:node:v1')
  t.equal(textOf(res.text, 'ok'), 'true')
  t.equal(textOf(res.text, 'stopped'), '3')
})

t.test('zeep style: empty SOAPAction, base64 content, repeated elements', async (t) => {
  const b64 = Buffer.from('export default 1\n').toString('base64')
  const body = envelope(`<ns0:SubmitJobRequest xmlns:ns0="urn:mvm:broker:v1"><ns0:profileYaml>kind: Job</ns0:profileYaml>` +
    '<ns0:params><ns0:name>n</ns0:name><ns0:value>4</ns0:value></ns0:params><ns0:params><ns0:name>m</ns0:name><ns0:value>5</ns0:value></ns0:params>' +
    `<ns0:bundle><ns0:path>main.ts</ns0:path><ns0:content>${b64}</ns0:content></ns0:bundle></ns0:SubmitJobRequest>`)
  const res = await postEnvelope(server.urlOf('Broker'), body, { SOAPAction: '""' })
  t.equal(res.status, 200)
  t.equal(textOf(res.text, 'jobId'), 'job-1')
})

t.test('faults: SOAP 1.1 shape with the code in detail', async (t) => {
  const body = envelope('<b:GetJobRequest xmlns:b="urn:mvm:broker:v1"><b:jobId>nope</b:jobId></b:GetJobRequest>')
  const res = await postEnvelope(server.urlOf('Broker'), body, { SOAPAction: '"urn:mvm:broker:v1#GetJob"' })
  t.equal(res.status, 500, 'WS-I: faults travel with HTTP 500')
  t.equal(textOf(res.text, 'faultcode'), 'soap:Client')
  t.equal(textOf(res.text, 'faultstring'), 'no job nope')
  t.equal(namespaceOf(res.text, 'MvmFault'), 'urn:mvm:broker:v1', 'detail element is tns:MvmFault')
  t.equal(textOf(res.text, 'code'), 'E_NOT_FOUND')
  t.notMatch(res.text, /Reason|Subcode|soap-envelope"/, 'not the SOAP 1.2 fault shape')
  const un = await postEnvelope(server.urlOf('Broker'), envelope('<b:GetPolicyRequest xmlns:b="urn:mvm:broker:v1"/>'))
  t.equal(textOf(un.text, 'faultcode'), 'soap:Server')
  t.equal(textOf(un.text, 'code'), 'E_UNAVAILABLE')
})
