import t from 'tap'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { NotFoundError, silentLogger } from '@mvm/core'
import { createWebView, type WebJob, type WebRankLog, type WebSource } from '@mvm/web'

/** A job's rank logs as files that grow: reads follow GetJobLogs' cursor rules (a tail without one). */
interface FakeJob { job: WebJob, placed: boolean, files: Array<{ out: string, err: string }>, peerId: string[], errors: Array<string | undefined> }
const jobs = new Map<string, FakeJob>()
let reads = 0

function read (file: string, from: number | undefined, maxBytes: number): { text: string, end: number, cut: boolean } {
  const b = Buffer.from(file)
  const start = from === undefined ? Math.max(0, b.length - maxBytes) : Math.min(from, b.length)
  const stop = from === undefined ? b.length : Math.min(b.length, start + maxBytes)
  return { text: b.subarray(start, stop).toString(), end: stop, cut: from === undefined && start > 0 }
}

const source: WebSource = {
  nodes: () => [],
  jobs: () => [...jobs.values()].map((j) => j.job),
  job: (id) => {
    const j = jobs.get(id)
    if (j === undefined) throw new NotFoundError(`no job ${id}`)
    return { ...j.job }
  },
  topologySvg: () => undefined,
  traffic: () => [],
  policy: () => ({}),
  logs: async (id, rank, from, maxBytes): Promise<WebRankLog | undefined> => {
    reads++
    const j = jobs.get(id)
    if (j === undefined) throw new NotFoundError(`no job ${id}`)
    if (!j.placed) return undefined
    const error = j.errors[rank]
    if (error !== undefined) return { rank, peerId: j.peerId[rank]!, stdout: '', stderr: '', truncated: false, outEnd: from?.outOffset ?? 0, errEnd: from?.errOffset ?? 0, error }
    const f = j.files[rank]!
    const out = read(f.out, from?.outOffset, maxBytes)
    const err = read(f.err, from?.errOffset, maxBytes)
    return { rank, peerId: j.peerId[rank]!, stdout: out.text, stderr: err.text, truncated: out.cut || err.cut, outEnd: out.end, errEnd: err.end }
  }
}

function addJob (id: string, size: number, files: Array<{ out: string, err: string }>, placed = true): FakeJob {
  const j: FakeJob = {
    job: { jobId: id, name: 'talk', state: 'running', owner: 'me', size, ranksStarted: size, ranksFinished: 0, submittedAt: new Date(0).toISOString() },
    placed, files, peerId: files.map(() => 'peer-a'), errors: []
  }
  jobs.set(id, j)
  return j
}

const view = createWebView({ source, log: silentLogger(), intervalMs: 50 })
const server = createServer((req, res) => { void view.handle(req, res) })
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
t.teardown(async () => { view.close(); await new Promise((resolve) => server.close(resolve)) })

interface Ev { event: string, data: Record<string, unknown>, bytes: number }
interface Log { rank: number, stream: string, lines: string[] }

/**
 * Reads an event stream until the server ends it (resolves) or `ms` pass (rejects); `onEvent`
 * sees each event as it comes, to change the fake job under the stream.
 */
async function follow (path: string, ms: number, onEvent: (e: Ev, all: Ev[]) => void = () => {}): Promise<Ev[]> {
  return await new Promise((resolve, reject) => {
    const all: Ev[] = []
    const req = request(base + path, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`status ${res.statusCode ?? '?'}`)); res.resume(); return }
      let buf = ''
      res.setEncoding('utf8')
      res.on('data', (s: string) => {
        buf += s
        let i
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2)
          const data = block.slice(block.indexOf('data: ') + 6)
          const e = { event: block.slice('event: '.length, block.indexOf('\n')), data: JSON.parse(data) as Record<string, unknown>, bytes: Buffer.byteLength(data) }
          all.push(e)
          onEvent(e, all)
        }
      })
      res.on('end', () => { clearTimeout(timer); resolve(all) })
    })
    const timer = setTimeout(() => { req.destroy(); reject(new Error(`the stream did not end within ${ms} ms; got ${all.map((e) => e.event).join(' ')}`)) }, ms)
    req.on('error', reject)
    req.end()
  })
}

const linesOf = (evs: Ev[], rank: number, stream: string): string[] =>
  evs.filter((e) => e.event === 'log').map((e) => e.data as unknown as Log).filter((l) => l.rank === rank && l.stream === stream).flatMap((l) => l.lines)

t.test('new lines per rank, stderr apart, markup as text; the stream ends once the job is finished', async (t) => {
  const j = addJob('j-talk', 2, [{ out: 'hello\npart', err: '' }, { out: 'no newline yet', err: 'oops <b>x</b> & "q"\r\n' }])
  let grown = false
  const evs = await follow('/ui/events/logs?id=j-talk', 10_000, (e) => {
    // once the first lines are out, the ranks write more and the job finishes
    if (e.event === 'log' && !grown) {
      grown = true
      j.files[0]!.out += 'ial line\nsecond\n'
      j.files[1]!.err += 'late error\n'
      setTimeout(() => { j.job.state = 'succeeded' }, 200)
    }
  })
  t.equal(evs[0]!.event, 'start')
  t.same(evs[0]!.data, { jobId: 'j-talk', size: 2, ranks: 2 })
  t.same(linesOf(evs, 0, 'out'), ['hello', 'partial line', 'second'], 'whole lines only, each once, the cut one joined')
  t.same(linesOf(evs, 1, 'err'), ['oops <b>x</b> & "q"', 'late error'], 'stderr is its own stream; text passes unchanged (the page makes it text nodes)')
  t.same(linesOf(evs, 1, 'out'), ['no newline yet'], 'an unfinished last line is sent when the job ends')
  t.same(linesOf(evs, 0, 'err'), [])
  t.same(evs.at(-1), { event: 'end', data: { state: 'succeeded' }, bytes: Buffer.byteLength('{"state":"succeeded"}') }, 'the last event says how the job ended')
  t.notOk(evs.some((e) => e.event === 'problem'), 'no problems')
})

t.test('bounds: lines in pieces, events bounded in bytes, a long history shown from its tail', async (t) => {
  const long = 'y'.repeat(4500)
  const history = Array.from({ length: 5000 }, (_, i) => `old line ${i}`).join('\n') + '\n'
  const j = addJob('j-big', 1, [{ out: history, err: '' }])
  let grown = false
  const evs = await follow('/ui/events/logs?id=j-big', 20_000, (e) => {
    if (e.event === 'log' && !grown) {
      grown = true
      // 60 KiB more than one read takes: it arrives over several polls
      j.files[0]!.out += long + '\n' + Array.from({ length: 3000 }, (_, i) => `new line ${i} <script>alert(1)</script>`).join('\n') + '\n'
      setTimeout(() => { j.job.state = 'failed' }, 1500)
    }
  })
  const notes = evs.filter((e) => e.event === 'notice').map((e) => String(e.data.message))
  t.match(notes.join('\n'), /rank 0: earlier output not shown/, 'the page is told it sees a tail')
  const lines = linesOf(evs, 0, 'out')
  t.match(lines[0], /^…/, 'the tail\'s first line is marked cut')
  t.notOk(lines.includes('old line 0'), 'the start of a long history is not sent')
  t.ok(lines.includes('old line 4999'), 'its end is')
  t.ok(lines.every((l) => l.length <= 2000), 'no line over 2000 characters')
  const i = lines.indexOf('y'.repeat(2000))
  t.same(lines.slice(i, i + 3).map((l) => l.length), [2000, 2000, 500], 'a 4500-character line comes in three pieces')
  t.equal(lines.filter((l) => l.startsWith('new line ')).length, 3000, 'every new line arrives, across several reads')
  t.equal(lines.at(-1), 'new line 2999 <script>alert(1)</script>')
  t.ok(evs.every((e) => e.bytes <= 32 * 1024), `every event at most 32 KiB (largest ${Math.max(...evs.map((e) => e.bytes))})`)
  t.equal(evs.at(-1)!.event, 'end')
})

t.test('a job never placed ends with no lines; 400 without an id, 404 for an unknown job', async (t) => {
  const j = addJob('j-queued', 3, [], false)
  const before = reads
  setTimeout(() => { j.job.state = 'cancelled' }, 300)
  const evs = await follow('/ui/events/logs?id=j-queued', 10_000)
  t.same(evs.map((e) => e.event), ['start', 'end'])
  t.ok(reads > before, 'it kept asking while the job waited')
  const noId = await fetch(`${base}/ui/events/logs`)
  t.equal(noId.status, 400)
  t.match(await noId.text(), /"id"/)
  const unknown = await fetch(`${base}/ui/events/logs?id=j-nope`)
  t.equal(unknown.status, 404)
  t.match(await unknown.text(), /E_NOT_FOUND: no job j-nope/)
})

t.test('a peer that cannot answer: said at the end for a rank never read, at once for one being followed', async (t) => {
  const j = addJob('j-peer', 2, [{ out: 'a\n', err: '' }, { out: '', err: '' }])
  j.errors[1] = 'peer b: E_NOT_FOUND: no logs for rank 1 on this node'
  let step = 0
  const evs = await follow('/ui/events/logs?id=j-peer', 10_000, (e) => {
    if (e.event === 'log' && step++ === 0) {
      // rank 0's peer goes away after its first read
      setTimeout(() => { j.errors[0] = 'peer a: E_UNAVAILABLE: connection refused' }, 150)
      setTimeout(() => { j.job.state = 'failed' }, 600)
    }
  })
  const notices = evs.map((e, i) => ({ i, e })).filter(({ e }) => e.event === 'notice')
  t.same(notices.map(({ e }) => e.data), [
    { rank: 0, message: 'peer a: E_UNAVAILABLE: connection refused' },
    { rank: 1, message: 'peer b: E_NOT_FOUND: no logs for rank 1 on this node' }
  ], 'each said once')
  t.equal(notices[1]!.i, evs.length - 2, "the never-read rank's error comes last, just before the end")
  t.same(linesOf(evs, 0, 'out'), ['a'])
})

t.test('a client that goes away stops the reads', async (t) => {
  addJob('j-left', 1, [{ out: 'x\n', err: '' }])
  await new Promise<void>((resolve, reject) => {
    const req = request(`${base}/ui/events/logs?id=j-left`, (res) => {
      res.once('data', () => { req.destroy(); resolve() })
    })
    req.on('error', () => {})
    setTimeout(() => { reject(new Error('no event within 5 s')) }, 5000).unref()
    req.end()
  })
  await new Promise((resolve) => setTimeout(resolve, 200))
  const after = reads
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(reads, after, 'no reads after the client left')
})
