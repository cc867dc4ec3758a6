import t from 'tap'
import { createServer, request, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { NotFoundError, silentLogger } from '@mvm/core'
import { createWebView, type WebSource } from '@mvm/web'

let items = 0
const source: WebSource = {
  nodes: () => [{ peerId: 'p1', group: 'lab', roles: ['peer'], state: 'up', labels: {}, load: 0.5, freeSlots: 1, totalSlots: 2 }],
  jobs: () => [],
  job: (id) => {
    if (id !== 'j-1') throw new NotFoundError(`no job ${id}`)
    return { jobId: 'j-1', name: 'ring', state: 'running', owner: 'me', size: 2, ranksStarted: 2, ranksFinished: 0, submittedAt: new Date(0).toISOString() }
  },
  topologySvg: () => '<svg><path class="edge" data-from="0" data-to="1"/></svg>',
  traffic: () => [{ jobId: 'j-1', rank: 0, port: 'next', items: (items += 10), bytes: items * 4 }],
  policy: () => ({ scheduling: { strategy: 'spread' } }),
  logs: async () => undefined
}

const view = createWebView({ source, log: silentLogger(), intervalMs: 100 })
const server = createServer((req, res) => { void view.handle(req, res) })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
t.teardown(async () => { view.close(); await new Promise((resolve) => server.close(resolve)) })

async function get (path: string, method = 'GET'): Promise<{ status: number, type: string, body: string, headers: IncomingMessage['headers'] }> {
  const r = await fetch(base + path, { method })
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text(), headers: {} }
}

t.test('pages, 404 and method not allowed', async (t) => {
  const page = await get('/ui')
  t.equal(page.status, 200)
  t.match(page.type, /text\/html/)
  t.match(page.body, /<script src="\/ui\/app.js">/)
  t.notMatch(page.body, /https?:\/\//, 'nothing is loaded from outside the node')
  const js = await get('/ui/app.js')
  t.match(js.type, /javascript/)
  t.match(js.body, /EventSource/)
  const missing = await get('/ui/nope')
  t.equal(missing.status, 404)
  t.match(missing.body, /no page at \/ui\/nope/)
  const post = await get('/ui', 'POST')
  t.equal(post.status, 405)
  t.match(post.body, /only answers GET/)
  const noId = await get('/ui/events/job')
  t.equal(noId.status, 400)
  t.match(noId.body, /"id"/)
  const unknown = await get('/ui/events/job?id=j-9')
  t.equal(unknown.status, 404)
  t.match(unknown.body, /E_NOT_FOUND: no job j-9/)
})

t.test('the job stream is SSE: topology first, then snapshots with rising traffic', async (t) => {
  const events = await new Promise<{ headers: IncomingMessage['headers'], text: string }>((resolve, reject) => {
    const req = request(`${base}/ui/events/job?id=j-1`, (res) => {
      let text = ''
      res.on('data', (b: Buffer) => {
        text += b.toString()
        if ((text.match(/event: snapshot/g) ?? []).length >= 3) { req.destroy(); resolve({ headers: res.headers, text }) }
      })
    })
    req.on('error', reject)
    req.end()
  })
  t.match(events.headers['content-type'], /^text\/event-stream/)
  t.equal(events.headers['cache-control'], 'no-cache')
  const blocks = events.text.split('\n\n').filter((b) => b !== '')
  t.match(blocks[0], /^event: topology\ndata: .*data-from/)
  const snaps = blocks.filter((b) => b.startsWith('event: snapshot')).map((b) => JSON.parse(b.slice(b.indexOf('data: ') + 6)) as { job: { state: string }, traffic: Array<{ items: number, itemsPerSec: number }> })
  t.equal(snaps[0]!.job.state, 'running')
  t.ok(snaps[2]!.traffic[0]!.items > snaps[0]!.traffic[0]!.items, 'counts go up between snapshots')
  t.ok(snaps[2]!.traffic[0]!.itemsPerSec > 0, 'a rate is computed from two snapshots')
})
