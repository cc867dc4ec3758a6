import t from 'tap'
import { createNodeClient } from '@mvm/soap'
import { startAll } from './fixtures.js'

const server = await startAll({})
t.teardown(() => server.close())

server.route('/metrics', async (_req, res) => { res.setHeader('Content-Type', 'text/plain'); res.end('up 1\n') })
server.route('/ui', async (_req, res, url) => { res.end(`ui:${url.pathname}`) })
server.route('/ui/api', async (_req, res, url) => { res.end(`api:${url.pathname}`) })

const get = async (path: string): Promise<{ status: number, body: string }> => {
  const r = await fetch(server.baseUrl + path, { signal: AbortSignal.timeout(10_000) })
  return { status: r.status, body: await r.text() }
}

t.test('a route answers its path and the paths below it, the longest prefix winning', async (t) => {
  t.same(await get('/metrics'), { status: 200, body: 'up 1\n' })
  t.same(await get('/ui/jobs/j-1'), { status: 200, body: 'ui:/ui/jobs/j-1' })
  t.same(await get('/ui/api/nodes'), { status: 200, body: 'api:/ui/api/nodes' })
  t.equal((await get('/metricsx')).status, 404, 'a path that only starts with the prefix is not it')
})

t.test('SOAP services still answer next to routes', async (t) => {
  const st = await createNodeClient(server.baseUrl).GetStatus({})
  t.type(st.peerId, 'string')
  t.equal((await get('/mvm/Node?wsdl')).status, 200)
})

t.test('a route must be an absolute path', async (t) => {
  t.throws(() => { server.route('metrics', async () => {}) }, { code: 'E_CONFIG' })
})
