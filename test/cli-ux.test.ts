// First-hour CLI behaviour (issue 16): the lab's hint works when pasted, a busy port is one
// line, cancel is idempotent, and `mvm result` of a cancelled job says so. Real processes throughout.
import t, { type Test } from 'tap'
import { createServer, type Server } from 'node:net'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { MVM_BIN } from '@mvm/cli'
import { createBrokerClient } from '@mvm/soap'
import { ROOT, runCli, waitFor } from './lib/lab.js'

async function occupy (): Promise<{ srv: Server, port: number }> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => { resolve() }))
  return { srv, port: (srv.address() as { port: number }).port }
}

function checkOneLine (t: Test, stderr: string, port: number, flag: string): void {
  const lines = stderr.trim().split('\n')
  t.ok(lines.length <= 3, `stderr is short:\n${stderr}`)
  t.match(stderr, new RegExp(`port ${port} is in use`))
  t.match(stderr, flag)
  t.notMatch(stderr, /^\s+at /m, 'no stack trace')
}

t.test('a busy port: mvm lab --port and mvm node --soap-port say so in one line, non-zero', async (t) => {
  const { srv, port } = await occupy()
  t.teardown(() => { srv.close() })
  const lab = await runCli(['lab', '--port', String(port), '--peers', '1'], 60_000)
  t.not(lab.code, 0)
  t.not(lab.code, null, 'it exited by itself')
  checkOneLine(t, lab.stderr, port, '--port')
  const node = await runCli(['node', '--roles', 'bootstrap,super-peer', '--soap-port', String(port), '--data-dir', join(ROOT, '.mvm', `ux-busy-${port}`)], 60_000)
  t.not(node.code, 0)
  t.not(node.code, null)
  checkOneLine(t, node.stderr, port, '--soap-port')
})

// one `mvm lab` (2 peers × 2 slots, no --data) serves its hint, its "temporary" note and the cancel checks
t.test('on one mvm lab --port N', async (t) => {
  const { srv, port } = await occupy()
  await new Promise<void>((resolve) => srv.close(() => { resolve() }))
  const lab = spawn(process.execPath, [MVM_BIN, 'lab', '--port', String(port), '--peers', '2'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>((resolve) => lab.once('exit', () => { resolve() }))
  t.teardown(async () => { lab.kill('SIGTERM'); await exited })
  let stderr = ''
  const hint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error('no hint within 60 s')) }, 60_000)
    createInterface({ input: lab.stderr! }).on('line', (l) => { stderr += l + '\n'; if (l.startsWith('submit with: ')) { clearTimeout(timer); resolve(l) } })
    void exited.then(() => { clearTimeout(timer); reject(new Error('the lab exited')) })
  })
  const url = `http://127.0.0.1:${port}`

  await t.test('it prints a submit hint that works as printed, and says its data is temporary', async (t) => {
    t.match(hint, `--bootstrap ${url}`)
    t.match(stderr, /temporary: removed on exit; --data DIR keeps jobs across restarts/, 'a lab without --data says its data is temporary')
    const cmd = hint.slice('submit with: '.length).split('(Ctrl-C')[0]!.trim().split(/\s+/)
    t.equal(cmd[0], 'mvm')
    const args = cmd.slice(1).map((a) => a === '<profile.yaml>' ? 'profiles/primes.yaml' : a)
    const r = await runCli([...args, '-p', 'n=100000'])
    t.equal(r.code, 0, r.stderr)
    t.match(r.stdout, /\b9592\b/, 'the job ran on this lab')
  })

  await t.test('cancel is idempotent; a finished job has nothing to cancel; result of a cancelled job says so', async (t) => {
    const broker = createBrokerClient(url)
    const sub = await runCli(['submit', join('test', 'fixtures', 'jobs', 'sleeper.yaml'), '--json', '--broker', url])
    t.equal(sub.code, 0, sub.stderr)
    const { jobId } = JSON.parse(sub.stdout) as { jobId: string }
    await waitFor(async () => (await broker.GetJob({ jobId })).state === 'running', 60_000, 'the sleeper to run')
    const first = await runCli(['cancel', jobId, '--broker', url])
    t.equal(first.code, 0, first.stderr)
    const again = await runCli(['cancel', jobId, '--broker', url])
    t.equal(again.code, 0, again.stderr)
    t.equal(again.stdout.trim(), `${jobId} cancelled`, 'the second cancel returns the state')
    const soap = await broker.CancelJob({ jobId })
    t.equal(soap.state, 'cancelled', 'over SOAP too')
    const res = await runCli(['result', jobId, '--broker', url])
    t.not(res.code, 0)
    t.match(res.stderr, new RegExp(`job ${jobId} was cancelled \\(cancelled by [^)]+\\)`))
    t.notMatch(res.stderr, /--wait/)

    const done = await runCli(['submit', 'profiles/primes.yaml', '-p', 'n=1000', '-p', 'processes=2', '--wait', '--broker', url])
    t.equal(done.code, 0, done.stderr)
    const doneId = /submitted (j-\S+)/.exec(done.stderr)?.[1]
    t.ok(doneId, done.stderr)
    const c = await runCli(['cancel', doneId!, '--broker', url])
    t.equal(c.code, 1, 'exit 1, as scancel for a completed job')
    t.equal(c.stderr.trim(), `job ${doneId!} already succeeded; nothing to cancel`)
  })
})

/** Starts `mvm lab` as a real process and resolves with the bootstrap URL from its ready line. */
async function spawnLab (t: Test, args: string[]): Promise<{ url: string, stderr: () => string, stop: () => Promise<number | null> }> {
  const lab = spawn(process.execPath, [MVM_BIN, 'lab', '--port', '0', '--peers', '1', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  lab.stderr.on('data', (b: Buffer) => { err += b.toString() })
  const exited = new Promise<number | null>((resolve) => lab.once('exit', (code) => { resolve(code) }))
  t.teardown(() => { lab.kill('SIGKILL') })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`no ready line within 60 s:\n${err}`)) }, 60_000)
    const rl = createInterface({ input: lab.stderr })
    rl.on('line', (line) => {
      const m = /bootstrap and broker (http:\/\/\S+?),/.exec(line)
      if (m !== null) { clearTimeout(timer); resolve(m[1]!) }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`lab exited early:\n${err}`)) })
  })
  return { url, stderr: () => err, stop: async () => { lab.kill('SIGINT'); return await exited } }
}

t.test('mvm lab --data DIR keeps the job history across restarts (without it the lab says its data is temporary: see above)', async (t) => {
  const dir = t.testdir({})
  const first = await spawnLab(t, ['--data', join(dir, 'lab')])
  t.notMatch(first.stderr(), /temporary:/, `a kept lab does not call its data temporary:\n${first.stderr()}`)
  const sub = await runCli(['submit', 'profiles/primes.yaml', '-p', 'n=1000', '-p', 'processes=2', '--wait', '--bootstrap', first.url])
  t.equal(sub.code, 0, sub.stderr)
  const jobId = /submitted (j-\S+)/.exec(sub.stderr)?.[1] ?? 'no job id'
  t.equal(await first.stop(), 0, 'the lab stops cleanly on Ctrl-C')

  const second = await spawnLab(t, ['--data', join(dir, 'lab')])
  const jobs = await runCli(['jobs', '--json', '--bootstrap', second.url])
  t.equal(jobs.code, 0, jobs.stderr)
  t.match(jobs.stdout, jobId, 'the job of the first run is listed after the restart')
  const res = await runCli(['result', jobId, '--bootstrap', second.url])
  t.equal(res.code, 0, res.stderr)
  t.match(res.stdout, /\b168\b/, 'and its result is still there (168 primes below 1000)')
  await second.stop()
})
