// `mvm lab` (what `npm run lab` runs) prints the web view's URL right after its ready line, before it
// submits its profiles, and
// that URL serves the page, and a running job's logs, while they run. A real lab process.
import t from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { MVM_BIN } from '@mvm/cli'
import { ROOT } from './lib/lab.js'

t.test('mvm lab prints the web view URL before it submits, and it is served while the profiles run', { timeout: 120_000 }, async (t) => {
  const lab = spawn(process.execPath, [MVM_BIN, 'lab', '--port', '0', '--peers', '1', '--slots', '2', '--profile', join(ROOT, 'test/fixtures/webview/chatty.yaml')],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  lab.stdout.on('data', (b: Buffer) => { stdout += b.toString() })
  const exited = new Promise<number | null>((resolve) => lab.once('exit', (code) => { resolve(code) }))
  t.teardown(() => { lab.kill('SIGKILL') })
  const lines: string[] = []
  // resolves with the first stderr line that matches, in the order the lab wrote them
  const waiters: Array<{ re: RegExp, resolve: (m: RegExpExecArray) => void }> = []
  createInterface({ input: lab.stderr }).on('line', (l) => {
    lines.push(l)
    for (const w of [...waiters]) { const m = w.re.exec(l); if (m !== null) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m) } }
  })
  const line = async (re: RegExp, what: string): Promise<RegExpExecArray> => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no ${what} within 60 s:\n${lines.join('\n')}`)) }, 60_000)
    waiters.push({ re, resolve: (m) => { clearTimeout(timer); resolve(m) } })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`the lab exited before its ${what}:\n${lines.join('\n')}`)) })
  })
  const submitted = line(/^submitted chatty: (\S+)/, '"submitted" line')

  const [, url] = await line(/^web view: (http:\/\/127\.0\.0\.1:\d+\/ui)\b/, '"web view:" line')
  t.match(lines[0], /^lab up in /, 'the ready line stays first (it says where the data is)')
  t.equal(lines.findIndex((l) => l.startsWith('web view: ')), 1, 'the URL comes next')
  t.notOk(lines.some((l) => l.startsWith('submitted ')), 'before any job is submitted')
  t.equal(stdout, '', 'and before any result')
  const page = await fetch(url!, { signal: AbortSignal.timeout(10_000) })
  t.equal(page.status, 200, `GET ${url!}`)
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.match(await page.text(), /<title>MVM web view<\/title>[\s\S]*<script src="\/ui\/app.js">/, 'the web view page')

  // and while the job runs, the same server streams its logs (the lab stops once the job is
  // verified, so the stream is read until rank 1's third line, not to its end)
  const [, jobId] = await submitted
  const res = await fetch(new URL(`/ui/events/logs?id=${jobId!}`, url).href, { signal: AbortSignal.timeout(60_000) })
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/event-stream/)
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let events = ''
  for (let i = 0; i < 10_000 && !events.includes('"tick 2 from rank 1 '); i++) {
    const { done, value } = await reader.read()
    if (done) break
    events += value
  }
  await reader.cancel()
  t.match(events, /^event: start\ndata: \{"jobId":"[^"]+","size":2,"ranks":2\}\n\n/, 'the stream starts')
  t.match(events, /event: log\ndata: \{"rank":1,"stream":"out","lines":\[[^\]]*"tick 2 from rank 1 <i>not italic<\/i>"/, 'it carries the running job\'s lines')

  t.equal(await exited, 0, 'the lab verifies the job and exits 0')
  t.match(stdout, /1 of 1 jobs verified/)
})
