import t, { type Test } from 'tap'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { NotFoundError } from '@mvm/core'
import { startSoapServer } from '@mvm/soap'
import { LOG_LIMITS } from '@mvm/soap'
import { brokerLogsHandler, type LoggedJob } from '@mvm/super-peer/internal'
import { nodeLogsHandler, runtimeLogDir } from '@mvm/peer'

const ctx = { remoteAddress: '127.0.0.1' }

/** A peer data dir holding the given log files (name → content). */
async function peerDir (t: Test, files: Record<string, string | Buffer>): Promise<string> {
  const dir = t.testdir()
  await mkdir(runtimeLogDir(dir), { recursive: true })
  for (const [name, content] of Object.entries(files)) await writeFile(join(runtimeLogDir(dir), name), content)
  return dir
}

t.test('Node.GetLogs reads only this job\'s rank files, tails them on a character boundary', async (t) => {
  const dir = await peerDir(t, {
    'j-1.r0.out': 'a\nb\n', 'j-1.r0.err': '',
    'j-1.r2.err': 'only stderr\n',
    'j-1.r0.r5.out': 'another job called j-1.r0\n', 'j-1.r1x.out': 'not a rank', 'j-10.r1.out': 'job j-10',
    'j-2.r0.out': 'é'.repeat(10) + '\u001b[31mred\u001b[0m\n'
  })
  const get = nodeLogsHandler({ dataDir: dir })
  t.same(await get({ jobId: 'j-1' }, ctx), {
    logs: [{ rank: 0, stdout: 'a\nb\n', stderr: '', truncated: false, outEnd: 4, errEnd: 0 }, { rank: 2, stdout: '', stderr: 'only stderr\n', truncated: false, outEnd: 0, errEnd: 12 }]
  })
  t.same((await get({ jobId: 'j-1', rank: 2 }, ctx)).logs.map((l) => l.rank), [2])
  await t.rejects(get({ jobId: 'j-1', rank: 1 }, ctx), { code: 'E_NOT_FOUND', message: 'no logs for rank 1 of job j-1 on this node' })
  await t.rejects(get({ jobId: 'j-3' }, ctx), { code: 'E_NOT_FOUND' })

  // 'é' is two bytes: a 16-byte tail starting inside one must not begin with a broken character
  const [cut] = (await get({ jobId: 'j-2', maxBytes: 16 }, ctx)).logs
  // 13 bytes of text after the é's: the last 16 bytes start in the middle of the third-last é
  t.same(cut, { rank: 0, stdout: 'é␛[31mred␛[0m\n', stderr: '', truncated: true, outEnd: 33, errEnd: 0 }, 'whole characters only; ESC (not allowed in XML) as its control picture')
  t.same((await get({ jobId: 'j-2', maxBytes: 0 }, ctx)).logs[0], { rank: 0, stdout: '', stderr: '', truncated: true, outEnd: 33, errEnd: 0 })
})

t.test('Node.GetLogs with a cursor reads on from it: every byte once, never half a character', async (t) => {
  const dir = await peerDir(t, { 'j-4.r0.out': 'ab' + 'é'.repeat(3) + '\n', 'j-4.r0.err': 'e1\n' })
  const get = nodeLogsHandler({ dataDir: dir })
  // 3 bytes from 0: 'ab' and the first byte of an é, which waits for the next read
  t.match((await get({ jobId: 'j-4', rank: 0, outOffset: 0, errOffset: 3, maxBytes: 3 }, ctx)).logs[0], { stdout: 'ab', stderr: '', outEnd: 2, errEnd: 3, truncated: false })
  let text = ''
  let at = 0
  for (let i = 0; i < 10; i++) {
    const [l] = (await get({ jobId: 'j-4', rank: 0, outOffset: at, maxBytes: 3 }, ctx)).logs
    if (l!.outEnd === at) break
    text += l!.stdout
    at = l!.outEnd!
  }
  t.equal(text, 'ab' + 'é'.repeat(3) + '\n', 'the pieces join to the whole stream')
  t.equal(at, 9)
  t.match((await get({ jobId: 'j-4', rank: 0, outOffset: 100 }, ctx)).logs[0], { stdout: '', outEnd: 9 }, 'past the end: nothing, the end')
  await t.rejects(get({ jobId: 'j-4', outOffset: 0 }, ctx), { code: 'E_BAD_REQUEST', message: /outOffset needs rank/ })
  await t.rejects(get({ jobId: 'j-4', rank: 0, errOffset: -1 }, ctx), { code: 'E_BAD_REQUEST', message: /errOffset -1 must be an integer >= 0/ })
})

t.test('Node.GetLogs refuses path tricks, bad ranks and sizes before touching files', async (t) => {
  const dir = await peerDir(t, {})
  await writeFile(join(dir, 'secret.out'), 'secret')
  await symlink(join(dir, 'secret.out'), join(runtimeLogDir(dir), 'j-9.r0.out'))
  const get = nodeLogsHandler({ dataDir: dir })
  for (const jobId of ['../secret', '..', 'a/b', '.r0', 'x\u0000y', 'a'.repeat(102)]) {
    await t.rejects(get({ jobId }, ctx), { code: 'E_BAD_REQUEST', message: /Node\.GetLogs: jobId/ }, JSON.stringify(jobId))
  }
  await t.rejects(get({ jobId: 'j-9', rank: -1 }, ctx), { code: 'E_BAD_REQUEST', message: /rank -1 must be an integer >= 0/ })
  await t.rejects(get({ jobId: 'j-9', maxBytes: LOG_LIMITS.maxBytes + 1 }, ctx), { code: 'E_BAD_REQUEST', message: /maxBytes/ })
  await t.rejects(get({ jobId: 'j-9' }, ctx), { code: 'E_NOT_FOUND' }, 'a symlinked log file is not followed')
})

/** A TCP port with nothing listening on it (bound, then closed). */
async function deadPort (): Promise<number> {
  const s = createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as { port: number }).port
  await new Promise((resolve) => s.close(resolve))
  return port
}

t.test('Broker.GetJobLogs asks each placed peer over SOAP; a missing peer only marks its ranks', async (t) => {
  const a = await peerDir(t, { 'j-1.r0.out': 'zero\n', 'j-1.r2.out': 'two\n', 'j-1.r3.out': 'stale rank 3 from an earlier placement\n' })
  const peerA = await startSoapServer({ services: { Node: { GetLogs: nodeLogsHandler({ dataDir: a }) } } })
  t.teardown(() => peerA.close())
  const dead = `http://127.0.0.1:${await deadPort()}`
  const jobs: Record<string, LoggedJob> = {
    'j-1': { id: 'j-1', size: 4, state: 'failed', placement: ['A', 'B', 'A', 'C'] },
    'j-q': { id: 'j-q', size: 2, state: 'queued', placement: null },
    'j-arr': { id: 'j-arr', size: 1, state: 'running', placement: null, childIds: ['j-c1', 'j-c2'] }
  }
  const urls: Record<string, string> = { A: peerA.baseUrl, B: dead }
  const handler = brokerLogsHandler({
    jobs: { get: (id) => { const j = jobs[id]; if (j === undefined) throw new NotFoundError(`no job "${id}"`); return j } },
    soapUrlOf: (p) => urls[p],
    timeoutMs: 5000
  })

  const { logs } = await handler({ jobId: 'j-1' }, ctx)
  t.same(logs.map((l) => [l.rank, l.peerId, l.stdout]), [[0, 'A', 'zero\n'], [1, 'B', ''], [2, 'A', 'two\n'], [3, 'C', '']])
  t.equal(logs[0]!.error, undefined)
  t.match(logs[1]!.error, /peer B: E_UNAVAILABLE: .*cannot reach/)
  t.match(logs[3]!.error, 'peer C is not in this super-peer\'s view')

  t.same((await handler({ jobId: 'j-1', rank: 2 }, ctx)).logs, [{ rank: 2, peerId: 'A', stdout: 'two\n', stderr: '', truncated: false, outEnd: 4, errEnd: 0 }])
  t.same((await handler({ jobId: 'j-1', rank: 2, outOffset: 1 }, ctx)).logs.map((l) => [l.stdout, l.outEnd]), [['wo\n', 4]], 'the cursor reaches the peer')
  await t.rejects(handler({ jobId: 'j-1', rank: 4 }, ctx), { code: 'E_BAD_REQUEST', message: /ranks 0\.\.3; there is no rank 4/ })
  await t.rejects(handler({ jobId: 'j-nope' }, ctx), { code: 'E_NOT_FOUND' })
  await t.rejects(handler({ jobId: '../j-1' }, ctx), { code: 'E_BAD_REQUEST', message: /Broker\.GetJobLogs: jobId/ })
  await t.rejects(handler({ jobId: 'j-q' }, ctx), { code: 'E_INVALID_STATE', message: /queued and has not been placed/ })
  await t.rejects(handler({ jobId: 'j-arr' }, ctx), { code: 'E_BAD_REQUEST', message: /array job.*j-c1, j-c2/ })

  // a peer holding no file for a placed rank: that rank says so, the others still come back
  jobs['j-1'] = { id: 'j-1', size: 2, state: 'running', placement: ['A', 'A'] }
  const two = (await handler({ jobId: 'j-1' }, ctx)).logs
  t.equal(two[0]!.stdout, 'zero\n')
  t.match(two[1]!.error, 'peer A has no log of rank 1')
})
