import t from 'tap'
import { parseXml, requestEnvelope, wireXml } from '../src/envelope.js'

t.test('replies read as the codec expects: arrays for repeats, exact text, local names', async (t) => {
  const xml = '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>' +
    '<x:GetLogsResponse xmlns:x="urn:mvm:broker:v1">\n  <x:logs><x:rank>0</x:rank><x:stdout>  two spaces\r\nand a CR &amp; &lt;tag&gt;</x:stdout><x:stderr/></x:logs>' +
    '<x:logs><x:rank>1</x:rank><x:stdout><![CDATA[<raw>]]></x:stdout><x:stderr></x:stderr></x:logs><x:one>v</x:one></x:GetLogsResponse></s:Body></s:Envelope>'
  const body = (parseXml(xml).Envelope as Record<string, any>).Body
  const r = body.GetLogsResponse
  t.ok(Array.isArray(r.logs), 'a repeated element is an array')
  t.equal(r.logs[0].stdout, '  two spaces\r\nand a CR & <tag>', 'text kept exactly, entities decoded')
  t.equal(r.logs[0].stderr, '', 'an empty element is empty text')
  t.equal(r.logs[1].stdout, '<raw>', 'CDATA is text')
  t.equal(r.one, 'v', 'a single element is a value')
})

t.test('malformed XML throws instead of giving half a reply', async (t) => {
  t.throws(() => parseXml('<a><b></a>'))
  t.throws(() => parseXml('<a>'))
})

t.test('requests: children in schema order, repeats, escaping, the service namespace', async (t) => {
  const wire = { jobId: 'j<1>', ranks: [1, 2], labels: [{ key: 'k', value: 'a&b' }], wait: true }
  t.equal(wireXml(wire), '<jobId>j&lt;1&gt;</jobId><ranks>1</ranks><ranks>2</ranks><labels><key>k</key><value>a&amp;b</value></labels><wait>true</wait>')
  const env = requestEnvelope('Broker', 'GetJob', { jobId: 'j1' })
  t.match(env, '<GetJobRequest xmlns="urn:mvm:broker:v1"><jobId>j1</jobId></GetJobRequest>')
  const back = parseXml(env) as Record<string, any>
  t.same(back.Envelope.Body.GetJobRequest, { jobId: 'j1' }, 'what we write we read back')
})
