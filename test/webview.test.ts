// The web view in a real headless Chromium: nodes listed, a running ring job with traffic rising on its page,
// and a running job's rank logs appearing live on its page, as text, until the stream ends with the job.
import '@mvm/core/polyfill'
import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { silentLogger } from '@mvm/core'
import { createMvmHost, type MvmHost } from '@mvm/node'
import { createBrokerClient } from '@mvm/soap'
import puppeteer from 'puppeteer-core'
import { ROOT, submit, waitFor } from './lib/lab.js'

// The page's DOM as far as the checks below read it: the tests' tsconfig has no DOM lib, and
// adding one would retype fetch and friends for every other test.
interface PageElement { textContent: string | null, className: string, dataset: Record<string, string | undefined> }
declare const document: {
  getElementById: (id: string) => PageElement | null
  querySelector: (selector: string) => PageElement | null
  querySelectorAll: (selector: string) => Iterable<PageElement>
}

const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'held'])
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'

t.test('the web view shows nodes, a running job and its traffic rising', { timeout: 90_000 }, async (t) => {
  const dir = t.testdir()
  if (!existsSync(CHROMIUM)) throw new Error(`this test needs Chromium at ${CHROMIUM} (install it, or set CHROMIUM to its path)`)
  const hosts: MvmHost[] = []
  t.teardown(async () => { for (const h of hosts.reverse()) await h.stop().catch(() => {}) })
  const sp = createMvmHost({ dataDir: join(dir, 'sp'), roles: ['bootstrap', 'super-peer'], group: 'lab', soap: { port: 0 }, logger: silentLogger(), monitoring: { heartbeatMs: 200 } })
  hosts.push(sp); await sp.start()
  for (const name of ['p1', 'p2']) {
    const p = createMvmHost({ dataDir: join(dir, name), roles: ['peer'], bootstrap: [sp.node.soapUrl], group: 'lab', soap: { port: 0 }, logger: silentLogger(), capacity: { slots: 1 } })
    hosts.push(p); await p.start()
  }
  await waitFor(() => sp.node.membership.view({}).filter((m) => m.roles.includes('peer') && m.state === 'up').length === 2, 20_000, 'two peers up')

  const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] })
  t.teardown(async () => { await browser.close() })
  const page = await browser.newPage()
  const ui = new URL('/ui', sp.node.soapUrl).href
  await page.goto(ui)
  await page.waitForFunction((ids: string[]) => ids.every((id) => document.getElementById('nodes')?.textContent?.includes(id)), { timeout: 15_000 }, hosts.slice(1).map((h) => h.node.peerId))
  t.pass('the page lists both peers')

  const broker = createBrokerClient(sp.node.soapUrl)
  // two ranks on two peers: every token crosses the node-to-node link
  const { jobId } = await submit(broker, join(ROOT, 'profiles/ring.yaml'), { processes: '2', laps: '40000' })
  let state = ''
  let why: string | undefined
  await waitFor(async () => { const j = await broker.GetJob({ jobId }); state = j.state; why = j.waitReason ?? j.reason; return state === 'running' || FINAL.has(state) }, 30_000, `job ${jobId} to run`).catch((err: Error) => { throw new Error(`${err.message} (${state}: ${why ?? "no reason given"})`) })
  t.equal(state, 'running', 'the broker runs the job')
  await page.waitForFunction((id: string) => document.querySelector(`.job-state[data-job="${id}"]`)?.textContent === 'running', { timeout: 15_000 }, jobId)
  t.pass(`job ${jobId} is listed as running`)
  // the overview as a user sees it while a job runs: nodes, the queue, the policy in force
  const labShot = join(ROOT, '.tap', 'webview-lab.png')
  mkdirSync(dirname(labShot), { recursive: true })
  await page.screenshot({ path: labShot, fullPage: true })
  t.comment(`screenshot: ${labShot}`)
  t.ok(existsSync(labShot), 'overview screenshot saved')

  await page.goto(`${ui}/job?id=${jobId}`)
  await page.waitForSelector('#topology svg [data-from]', { timeout: 15_000 })
  const items = async (): Promise<number> => await page.evaluate(() => [...document.querySelectorAll('#traffic .items')].reduce((a, e) => a + Number(e.textContent), 0))
  await waitFor(async () => await items() > 0, 20_000, 'traffic on the job page')
  const first = await items()
  await waitFor(async () => await items() > first, 20_000, `traffic to rise above ${first}`)
  t.ok(await items() > first, `items sent rose from ${first} to ${await items()}`)
  const shot = join(ROOT, '.tap', 'webview-job.png')
  mkdirSync(dirname(shot), { recursive: true })
  await page.screenshot({ path: shot, fullPage: true })
  t.comment(`screenshot: ${shot}`)
  t.ok(existsSync(shot), 'screenshot saved')
  await broker.CancelJob({ jobId })
  await page.waitForFunction(() => document.getElementById('logs-state')?.dataset.ended === 'true', { timeout: 15_000 })
  t.match(await page.evaluate(() => document.getElementById('logs-state')?.textContent), /cancelled/, 'the log stream of the cancelled ring ends and says how')

  // a job that prints while it runs: its lines appear on its page as they are written
  const chatty = await submit(broker, join(ROOT, 'test/fixtures/webview/chatty.yaml'), { ticks: '40', everyMs: '200' })
  await waitFor(async () => { const j = await broker.GetJob({ jobId: chatty.jobId }); state = j.state; return state === 'running' || FINAL.has(state) }, 30_000, `job ${chatty.jobId} to run`)
  t.equal(state, 'running', 'the chatty job runs')
  await page.goto(`${ui}/job?id=${chatty.jobId}`)
  const ticks = async (rank: number): Promise<string[]> => await page.evaluate((r: number) => [...document.querySelectorAll(`#logs .log-out[data-rank="${r}"]`)].map((e) => e.textContent ?? '').filter((x) => x.includes('tick ')), rank)
  await waitFor(async () => (await ticks(1)).length > 0, 20_000, "rank 1's first line on the job page")
  const seen = (await ticks(1)).length
  t.match((await ticks(1))[0], /^r1 out\s*tick \d+ from rank 1 <i>not italic<\/i>$/, 'a line of rank 1, labelled with its rank, markup as text')
  t.ok((await page.evaluate(() => [...document.querySelectorAll('#logs i, #logs b')].length)) === 0, 'log text never becomes markup')
  t.equal(await page.evaluate(() => document.getElementById('logs-state')?.dataset.ended), undefined, 'the stream is still open while the job runs')
  await waitFor(async () => (await ticks(1)).length > seen, 20_000, `more than ${seen} lines of rank 1`)
  t.pass(`rank 1's lines keep coming while the job runs (${seen}, then ${(await ticks(1)).length})`)
  const errs = await page.evaluate(() => [...document.querySelectorAll('#logs .log-err')].map((e) => e.textContent ?? ''))
  t.ok(errs.some((e) => /^r0 err\s*rank 0 <b>warns<\/b> on stderr$/.test(e)), `stderr is shown apart (log-err): ${errs.join(' | ')}`)
  await page.waitForFunction(() => document.getElementById('logs-state')?.dataset.ended === 'true', { timeout: 30_000 })
  const lines = await page.evaluate(() => [...document.querySelectorAll('#logs .log-out')].map((e) => e.textContent ?? ''))
  t.match(await page.evaluate(() => document.getElementById('logs-state')?.textContent), /succeeded/, 'the stream ends when the job has finished')
  for (const r of [0, 1]) {
    t.ok(lines.some((l) => l.endsWith(`rank ${r} done`)), `rank ${r}'s last line arrived before the end`)
    t.equal(lines.filter((l) => l.includes(`tick 39 from rank ${r} `)).length, 1, `rank ${r}'s lines each once`)
  }
  const logShot = join(ROOT, '.tap', 'webview-logs.png')
  await page.screenshot({ path: logShot, fullPage: true })
  t.comment(`screenshot: ${logShot}`)
})
