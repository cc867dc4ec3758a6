import t from 'tap'
import soap from 'soap'
import { NotFoundError } from '@mvm/core'
import { createBrokerClient, createNodeClient, startSoapServer, type GetLogsRequest } from '@mvm/soap'
import { envelope, postEnvelope } from './fixtures.js'

// log text keeps what XML would lose or mangle by default: edge whitespace, markup, non-ASCII
const OUT = '  indented first line\n<b>bold</b> & "quoted" \'single\'\n\tünïcødé ✓\n\n'
const ERR = '\n  warning: x < y\n'

const seen: GetLogsRequest[] = []
const server = await startSoapServer({
  services: {
    Node: {
      GetLogs: async (req) => {
        seen.push(req)
        if (req.jobId === 'missing') throw new NotFoundError(`no logs for job ${req.jobId}`)
        return { logs: [{ rank: req.rank ?? 0, stdout: OUT, stderr: ERR, truncated: false }, { rank: 1, stdout: '', stderr: '', truncated: true }] }
      }
    },
    Broker: {
      GetJobLogs: async (req) => ({
        logs: [
          { rank: 0, peerId: 'P0', stdout: OUT, stderr: '', truncated: false },
          { rank: 1, peerId: 'P1', stdout: '', stderr: '', truncated: false, error: `peer P1 unreachable (maxBytes ${String(req.maxBytes)})` }
        ]
      })
    }
  }
})
t.teardown(() => server.close())

t.test('typed clients get log text byte for byte, optional fields absent or set', async (t) => {
  const node = createNodeClient(server.baseUrl)
  const res = await node.GetLogs({ jobId: 'j-1', rank: 3, maxBytes: 100 })
  t.same(res, { logs: [{ rank: 3, stdout: OUT, stderr: ERR, truncated: false }, { rank: 1, stdout: '', stderr: '', truncated: true }] })
  t.same(seen.at(-1), { jobId: 'j-1', rank: 3, maxBytes: 100 })
  await node.GetLogs({ jobId: 'j-2' })
  t.same(seen.at(-1), { jobId: 'j-2' }, 'absent optionals stay absent')
  await t.rejects(node.GetLogs({ jobId: 'missing' }), { code: 'E_NOT_FOUND', message: /no logs for job missing/ })
  await t.rejects(node.GetLogs({ jobId: 'j', rank: 1.5 }), { code: 'E_BAD_REQUEST', message: /Node\.GetLogs\.rank: expected an integer/ })

  const broker = createBrokerClient(server.baseUrl)
  const b = await broker.GetJobLogs({ jobId: 'j-1', maxBytes: 10 })
  t.same(b.logs[0], { rank: 0, peerId: 'P0', stdout: OUT, stderr: '', truncated: false })
  t.same(b.logs[1], { rank: 1, peerId: 'P1', stdout: '', stderr: '', truncated: false, error: 'peer P1 unreachable (maxBytes 10)' })
})

t.test('a plain node-soap client from ?wsdl and a raw envelope reach GetLogs and GetJobLogs', async (t) => {
  const node: any = await soap.createClientAsync(server.urlOf('Node') + '?wsdl', { disableCache: true })
  const [res] = await node.GetLogsAsync({ jobId: 'j-3', rank: 2 })
  t.equal(res.logs[0].rank, 2)
  t.same(seen.at(-1), { jobId: 'j-3', rank: 2 })
  const broker: any = await soap.createClientAsync(server.urlOf('Broker') + '?wsdl', { disableCache: true })
  const [b] = await broker.GetJobLogsAsync({ jobId: 'j-4' })
  t.equal(b.logs[1].peerId, 'P1')

  const raw = await postEnvelope(server.urlOf('Node'), envelope('<n:GetLogsRequest xmlns:n="urn:mvm:node:v1"><n:jobId>j-5</n:jobId><n:rank>oops</n:rank></n:GetLogsRequest>'))
  t.equal(raw.status, 500)
  t.match(raw.text, /<code>E_BAD_REQUEST<\/code>/)
  t.match(raw.text, /Node\.GetLogs\.rank: &quot;[^&]*&quot; is not an integer/)
  const ok = await postEnvelope(server.urlOf('Node'), envelope('<n:GetLogsRequest xmlns:n="urn:mvm:node:v1"><n:jobId>j-6</n:jobId></n:GetLogsRequest>'))
  t.equal(ok.status, 200)
  t.match(ok.text, '&lt;b&gt;bold&lt;/b&gt; &amp;')
})
