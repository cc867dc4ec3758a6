// `mvm logs` against a real lab: ranks print to stdout/stderr on two peers; the broker gathers
// each rank's log from the peer it ran on (Broker.GetJobLogs → Node.GetLogs), the real CLI prints it.
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { createNodeClient } from '@mvm/soap'
import { ROOT, startLab, submit, waitJob, type TestLab } from './lib/lab.js'

const MVM = join(ROOT, 'packages', 'cli', 'bin', 'mvm.js')
const TALK = join(ROOT, 'test', 'fixtures', 'logs', 'talk.yaml')

let lab: TestLab
let okJob = ''
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

interface Run { code: number, stdout: string, stderr: string }
async function mvm (...args: string[]): Promise<Run> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [MVM, ...args, '--broker', lab.bootstrap], { timeout: 60_000, env: { ...process.env, MVM_BROKER: '', MVM_BOOTSTRAP: '' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr })
    })
  })
}

t.test('a succeeded job: every rank\'s stdout and stderr, labelled, from both peers', async (t) => {
  const { jobId } = await submit(lab.broker, TALK, { lines: '3000' })
  okJob = jobId
  const { info } = await waitJob(lab.broker, jobId, 90_000)
  t.equal(info.state, 'succeeded', info.reason ?? '')
  t.equal(new Set(info.placement.map((p) => p.peerId)).size, 2, 'ranks ran on both peers')

  const { logs } = await lab.broker.GetJobLogs({ jobId })
  t.same(logs.map((l) => l.rank), [0, 1, 2, 3])
  for (const l of logs) {
    t.equal(l.peerId, info.placement[l.rank]!.peerId, `rank ${l.rank} came from the peer it was placed on`)
    t.equal(l.error, undefined)
    t.equal(l.truncated, false)
    // exact text: leading spaces, markup and the final newline survive the SOAP round trip
    t.match(l.stdout, `hello from rank ${l.rank} of 4\n  <tag> & "quotes" rank=${l.rank}\n`)
    t.ok(l.stdout.endsWith(`rank ${l.rank} done\n`), `rank ${l.rank} stdout ends with its last line`)
    t.equal(l.stderr, `rank ${l.rank} warning on stderr\n`)
  }
  t.match(logs[0]!.stdout, '\nline 0\nline 1\n')
  t.match(logs[0]!.stdout, '\nline 2999\n')

  const r = await mvm('logs', jobId)
  t.equal(r.code, 0, r.stderr)
  for (let rank = 0; rank < 4; rank++) {
    t.match(r.stdout, `[r${rank} out] hello from rank ${rank} of 4\n`)
    t.match(r.stdout, `[r${rank} out]   <tag> & "quotes" rank=${rank}\n`)
    t.match(r.stdout, `[r${rank} err] rank ${rank} warning on stderr\n`)
    t.match(r.stdout, `[r${rank} out] rank ${rank} done\n`)
  }
  t.match(r.stdout, '[r0 out] line 2999\n')
  t.notMatch(r.stdout, /\[r[1-3] out\] line /, 'numbered lines only on rank 0')
})

t.test('--rank, --stream, --tail, --max-bytes, --json', async (t) => {
  const one = await mvm('logs', okJob, '--rank', '1')
  t.equal(one.code, 0, one.stderr)
  t.match(one.stdout, '[r1 out] hello from rank 1 of 4\n')
  t.match(one.stdout, '[r1 err] rank 1 warning on stderr\n')
  t.notMatch(one.stdout, /\[r[023] /, 'no other rank')

  const err = await mvm('logs', okJob, '--rank', '2', '--stream', 'err')
  t.equal(err.stdout, '[r2 err] rank 2 warning on stderr\n')

  const tail = await mvm('logs', okJob, '--rank', '0', '--stream', 'out', '--tail', '2')
  t.equal(tail.stdout, '[r0 out] line 2999\n[r0 out] rank 0 done\n')

  const cut = await mvm('logs', okJob, '--rank', '0', '--max-bytes', '100')
  t.equal(cut.code, 0, cut.stderr)
  t.match(cut.stderr, 'rank 0: earlier output left out')
  t.match(cut.stdout, '[r0 out] rank 0 done\n')
  t.notMatch(cut.stdout, 'hello from rank 0', 'the head of a truncated stream is gone')
  const { logs } = await lab.broker.GetJobLogs({ jobId: okJob, rank: 0, maxBytes: 100 })
  t.equal(logs.length, 1)
  t.ok(Buffer.byteLength(logs[0]!.stdout) <= 100 && logs[0]!.truncated, 'at most maxBytes, flagged truncated')
  t.equal(logs[0]!.stderr, 'rank 0 warning on stderr\n', 'a short stream is whole')

  const json = await mvm('logs', okJob, '--rank', '3', '--json')
  const parsed = JSON.parse(json.stdout) as Array<{ rank: number, peerId: string, stderr: string }>
  t.same(parsed.map((l) => [l.rank, l.stderr]), [[3, 'rank 3 warning on stderr\n']])

  const bad = await mvm('logs', okJob, '--rank', 'x')
  t.equal(bad.code, 1)
  t.match(bad.stderr, 'E_BAD_REQUEST: --rank expects a whole number')
  const none = await mvm('logs', okJob, '--rank', '9')
  t.equal(none.code, 1)
  t.match(none.stderr, /E_BAD_REQUEST: .*there is no rank 9/)
})

t.test('a peer serves only the ranks it ran (Node.GetLogs)', async (t) => {
  const info = await lab.broker.GetJob({ jobId: okJob })
  for (const p of lab.peers) {
    const mine = info.placement.filter((x) => x.peerId === p.ready.peerId).map((x) => x.rank)
    const { logs } = await createNodeClient(p.ready.soapUrl).GetLogs({ jobId: okJob })
    t.same(logs.map((l) => l.rank), mine, `peer ${p.ready.peerId.slice(-6)} has ranks ${mine.join(',')}`)
  }
})

t.test('a failed job keeps its logs', async (t) => {
  const { jobId } = await submit(lab.broker, TALK, { fail: '1' })
  const { info } = await waitJob(lab.broker, jobId, 90_000)
  t.equal(info.state, 'failed')
  t.match(info.reason ?? '', 'fails on purpose')
  const r = await mvm('logs', jobId)
  t.equal(r.code, 0, r.stderr)
  for (let rank = 0; rank < 4; rank++) t.match(r.stdout, `[r${rank} out] hello from rank ${rank} of 4\n`)
  t.match(r.stdout, '[r1 err] rank 1 warning on stderr\n')
  t.notMatch(r.stdout, '[r1 out] rank 1 done', 'the failing rank never got past its throw')
})

t.test('unknown jobs and path tricks are refused with their codes', async (t) => {
  const unknown = await mvm('logs', 'j-000000000-00000000')
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /mvm: E_NOT_FOUND: .*j-000000000-00000000/)
  await t.rejects(lab.broker.GetJobLogs({ jobId: 'j-000000000-00000000' }), { code: 'E_NOT_FOUND' })

  for (const jobId of ['../../etc/passwd', `${okJob}/../${okJob}`, '.hidden', 'a b', '']) {
    const r = await mvm('logs', jobId)
    t.equal(r.code, 1, `CLI refuses ${JSON.stringify(jobId)}`)
    t.match(r.stderr, `mvm: E_BAD_REQUEST: jobId ${JSON.stringify(jobId)} is not a job id`)
    await t.rejects(createNodeClient(lab.peers[0]!.ready.soapUrl).GetLogs({ jobId }), { code: 'E_BAD_REQUEST', message: /Node\.GetLogs: jobId/ })
  }
  await t.rejects(createNodeClient(lab.peers[0]!.ready.soapUrl).GetLogs({ jobId: okJob, maxBytes: 2 * 1024 * 1024 }), { code: 'E_BAD_REQUEST', message: /maxBytes/ })
  await t.rejects(createNodeClient(lab.peers[0]!.ready.soapUrl).GetLogs({ jobId: 'j-000000000-00000000' }), { code: 'E_NOT_FOUND', message: /no logs for job/ })
})
