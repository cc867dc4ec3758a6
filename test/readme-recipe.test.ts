// The README's "A lab on several terminals" recipe, run as written: its commands are read from
// README.md, run from a fresh temp cwd with their relative `--data-dir`s untouched (only the
// SOAP port changes, and only when 7700 is taken), then a sample profile is submitted through a
// relative path and must give its expected result.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { isAbsolute, join, relative } from 'node:path'
import { MVM_BIN, startNodeProcess, type NodeProcess } from '@mvm/cli'
import { ROOT, waitFor, type CliRun } from './lib/lab.js'
import { primeCount } from './lib/oracles.js'

/** The `npx mvm …` lines of the README section, as argument lists after `mvm`. */
async function recipe (): Promise<string[][]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const at = readme.indexOf('### A lab on several terminals')
  if (at < 0) throw new Error('README section "A lab on several terminals" not found')
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at))
  if (block === null) throw new Error('no sh block in the README section')
  return block[1]!.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('npx mvm ')).map((l) => l.slice('npx mvm '.length).split(/\s+/))
}

async function portFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => { resolve(false) })
    s.listen(port, '127.0.0.1', () => { s.close(() => { resolve(true) }) })
  })
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => { resolve(typeof a === 'object' && a !== null ? a.port : 0) })
    })
  })
}

async function runIn (cwd: string, args: string[], ms = 120_000): Promise<CliRun> {
  return await new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [MVM_BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => c.kill('SIGKILL'), ms)
    c.on('error', (err) => { clearTimeout(timer); reject(err) })
    c.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

t.test('the README multi-terminal recipe works as written, from any cwd', async (t) => {
  const lines = await recipe()
  const nodeLines = lines.filter((l) => l[0] === 'node')
  t.equal(nodeLines.length, 3, 'super-peer + 2 peers in the recipe')
  t.ok(nodeLines.every((l) => { const i = l.indexOf('--data-dir'); return i >= 0 && !l[i + 1]!.startsWith('/') }), 'the recipe uses relative data dirs')

  const cwd = await mkdtemp(join(tmpdir(), 'mvm-readme-'))
  const procs: NodeProcess[] = []
  t.teardown(async () => {
    await Promise.all(procs.map(async (p) => await p.stop(3000)))
    await rm(cwd, { recursive: true, force: true })
  })
  const port = (await portFree(7700)) ? '7700' : String(await freePort())
  const asWritten = (l: string[]): string[] => l.map((a) => a.replace(/\b7700\b/, port))
  const onLog = process.env.MVM_TEST_LOGS !== undefined ? (l: string) => { process.stderr.write(l + '\n') } : undefined

  const [sp, ...peers] = nodeLines.map(asWritten)
  procs.push(await startNodeProcess('sp', sp!.slice(1), { cwd, onLog }))
  for (const [i, p] of peers.entries()) procs.push(await startNodeProcess(`p${i + 1}`, p.slice(1), { cwd, onLog }))
  const url = `http://127.0.0.1:${port}`

  const nodesLine = lines.find((l) => l[0] === 'nodes')
  t.ok(nodesLine, 'the recipe lists the nodes')
  await waitFor(async () => {
    const r = await runIn(cwd, asWritten(nodesLine!), 30_000)
    return r.code === 0 && (r.stdout.match(/\bup\b/g) ?? []).length >= 3
  }, 60_000, 'mvm nodes to show 3 nodes up')

  // a relative profile path, resolved against the submitter's cwd
  const profile = relative(cwd, join(ROOT, 'profiles', 'primes.yaml'))
  const r = await runIn(cwd, ['submit', profile, '-p', 'n=300000', '--wait', '--broker', url])
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.trim(), String(primeCount(300_000)), 'the sample gives its result')
  for (const p of procs) {
    // `mvm node` prints its data dir in the ready line; ReadyLine does not type it
    const dataDir = (p.ready as { dataDir?: string }).dataDir ?? ''
    t.ok(isAbsolute(dataDir) && dataDir.startsWith(cwd), `${p.name}: data dir ${dataDir} is absolute, under the node's cwd`)
    t.ok(await stat(join(cwd, nodeLines[procs.indexOf(p)]![nodeLines[procs.indexOf(p)]!.indexOf('--data-dir') + 1]!)).then((s) => s.isDirectory(), () => false), `${p.name}: the relative data dir was created under the cwd`)
  }
})
