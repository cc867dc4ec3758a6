// The CLI habits of Slurm/HTCondor users against one real lab: `mvm logs -f` (tail -f of every
// rank), `mvm submit --wait` progress on a terminal and quiet when piped, `mvm jobs --watch`,
// `mvm completion bash|zsh` and `mvm help TOPIC`.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MVM_BIN } from '@mvm/cli'
import { jobProfileSpecSchema, nodeConfigSpecSchema, policySpecSchema, workflowSpecSchema } from '@mvm/model'
import { ROOT, runCli, startLab, submit, waitJob, type TestLab } from './lib/lab.js'

const DRIP = join(ROOT, 'test', 'fixtures', 'cli-habits', 'drip.yaml')

let lab: TestLab
t.before(async () => { lab = await startLab({ peers: 2, slots: 2 }) })
t.teardown(async () => { await lab?.stop() })

const at = (): string[] => ['--bootstrap', lab.bootstrap]

/** The lines rank `r` of drip.ts prints on `stream`, in order, labelled as `mvm logs` labels them. */
function dripLines (r: number, ticks: number, stream: 'out' | 'err'): string[] {
  const lines: string[] = []
  for (let i = 0; i < ticks; i++) {
    if ((i % 5 === 4) === (stream === 'err')) lines.push(stream === 'err' ? `[r${r} err] r${r} warn ${i}` : `[r${r} out] r${r} tick ${i} ${'é'.repeat(i % 3)}`)
  }
  if (stream === 'out') lines.push(`[r${r} out] r${r} end`)
  return lines
}

t.test('mvm logs -f follows every rank live: each line once, in order, then the job\'s exit code', async (t) => {
  const { jobId } = await submit(lab.broker, DRIP, { ticks: '20', everyMs: '60' })
  const started = Date.now()
  const r = await runCli(['logs', '-f', jobId, '--interval', '100', ...at()], 60_000)
  t.equal(r.code, 0, r.stderr)
  const info = await lab.broker.GetJob({ jobId })
  t.equal(info.state, 'succeeded')
  // it was following, not reading once at the end: the job ran for about 20 × 60 ms
  t.ok(Date.now() - started >= 1000, 'the follower waited for the job')
  const lines = r.stdout.split('\n').filter((l) => l !== '')
  for (const rank of [0, 1]) {
    for (const s of ['out', 'err'] as const) {
      t.same(lines.filter((l) => l.startsWith(`[r${rank} ${s}]`)), dripLines(rank, 20, s), `rank ${rank} ${s}: every line once, in order`)
    }
  }
  t.equal(lines.length, 2 * (20 + 1), 'nothing else')

  const one = await runCli(['logs', '--follow', jobId.slice(0, 14), '--rank', '1', '--stream', 'err', ...at()], 30_000)
  t.equal(one.code, 0, one.stderr)
  t.equal(one.stdout, dripLines(1, 20, 'err').join('\n') + '\n', '--rank and --stream still select, a finished job ends at once')

  const tail = await runCli(['logs', '-f', jobId, '--rank', '0', '--tail', '2', ...at()], 30_000)
  t.equal(tail.code, 0, tail.stderr)
  const tailed = tail.stdout.split('\n')
  for (const s of ['out', 'err'] as const) t.same(tailed.filter((l) => l.startsWith(`[r0 ${s}]`)), dripLines(0, 20, s).slice(-2), `--tail 2 starts from the last 2 lines of ${s}`)
  t.equal(tailed.length, 5, 'four lines')
})

t.test('mvm logs -f on a failing job exits 2 with the reason', async (t) => {
  const { jobId } = await submit(lab.broker, DRIP, { ticks: '6', everyMs: '30', fail: '1' })
  const r = await runCli(['logs', '-f', jobId, ...at()], 60_000)
  t.equal(r.code, 2, r.stderr)
  t.match(r.stderr, `job ${jobId} failed`)
  t.match(r.stdout, '[r0 out] r0 end\n')
  t.match(r.stdout, '[r1 err] r1 warn 4\n')
  const bad = await runCli(['logs', '-f', jobId, '--rank', '7', ...at()], 30_000)
  t.equal(bad.code, 1)
  t.match(bad.stderr, 'there is no rank 7')
  await waitJob(lab.broker, jobId)
})

t.test('mvm submit --wait: piped, only the result on stdout and the old per-change lines; on a terminal, one line redrawn', async (t) => {
  const piped = await runCli(['submit', '--wait', DRIP, '-p', 'ticks=4', '-p', 'everyMs=20', ...at()], 60_000)
  t.equal(piped.code, 0, piped.stderr)
  t.equal(piped.stdout, '0\n', 'stdout: the result alone')
  t.match(piped.stderr, /^submitted j-\S+ \(drip\) from \S+\n/)
  t.notMatch(piped.stderr, /\r|\u001b\[/, 'no redraws when piped')
  t.match(piped.stderr, /: succeeded · \d+ s\n$/, 'the per-change lines end with the final state')

  // a real pseudo-terminal (script from util-linux): the bar redraws one line in place
  const cmd = [process.execPath, MVM_BIN, 'submit', '--wait', DRIP, '-p', 'ticks=16', '-p', 'everyMs=100', ...at()].map((a) => `'${a}'`).join(' ')
  const tty = await new Promise<{ code: number | null, out: string }>((resolve) => {
    execFile('script', ['-qec', cmd, '/dev/null'], { timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? -1, out: stdout })
    })
  })
  t.equal(tty.code, 0, tty.out)
  t.match(tty.out, /\r|\u001b\[/, 'redrawn in place')
  t.match(tty.out, /running \d\/2 ranks, \d done · \d+ s/, 'ranks started / finished and elapsed while it runs')
  t.match(tty.out, /succeeded · \d+ s/)
  t.match(tty.out, /succeeded · \d+ s[^]*\b0\r?\n/, 'then the result')

  const forced = await runCliEnv(['submit', '--wait', DRIP, '-p', 'ticks=4', '-p', 'everyMs=20', ...at()], { MVM_PROGRESS: '1' })
  t.equal(forced.code, 0, forced.stderr)
  t.equal(forced.stdout, '0\n')
  t.match(forced.stderr, /\|[█░]+\| succeeded/, 'MVM_PROGRESS=1 draws the bar without a terminal')
})

t.test('mvm jobs --watch redraws the table, bounded by --count', async (t) => {
  const r = await runCli(['jobs', '--watch', '--interval', '0.2', '--count', '3', '--limit', '2', ...at()], 30_000)
  t.equal(r.code, 0, r.stderr)
  t.equal(r.stdout.match(/^JOB\s+NAME\s+STATE/gm)?.length, 3, 'three tables')
  t.equal(r.stdout.match(/^every 0\.2 s {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/gm)?.length, 3, 'each headed by when it was read')
  t.match(r.stdout, /drip\s+succeeded/)
  t.notMatch(r.stdout, /\u001b/, 'piped: no screen clearing')
  const bad = await runCli(['jobs', '--watch', '--interval', '0', ...at()], 30_000)
  t.equal(bad.code, 1)
  t.match(bad.stderr, '--interval expects seconds from 0.1 to 3600, got "0"')
})

t.test('mvm completion bash completes commands, subcommands and options in a real bash', async (t) => {
  const cases = [['mvm', 'sub'], ['mvm', 'policy', 'ap'], ['mvm', 'logs', '--fo'], ['mvm', '--bootstrap', 'x', 'jobs', '--wa'], ['mvm', 'help', 'node-']]
  // one bash, one script: each case prints its candidates on one line
  const script = `source <('${process.execPath}' '${MVM_BIN}' completion bash) || exit 9
` + cases.map((words) => `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _mvm; echo "\${COMPREPLY[*]}"`).join('\n')
  const out = await new Promise<string>((resolve, reject) => {
    execFile('bash', ['-c', script], { timeout: 20_000 }, (err, stdout, stderr) => { if (err !== null) reject(new Error(stderr)); else resolve(stdout) })
  })
  t.same(out.split('\n').slice(0, cases.length), ['submit', 'apply', '--follow', '--watch', 'node-config'],
    'a command; a subcommand; a new option with no edit to the script; options before the command skipped; a help topic')
  const zsh = await runCli(['completion', 'zsh'])
  t.match(zsh.stdout, 'bashcompinit')
  t.match(zsh.stdout, 'complete -F _mvm mvm')
  const bad = await runCli(['completion', 'fish'])
  t.equal(bad.code, 1)
  t.match(bad.stderr, 'expects bash or zsh, got "fish"')
})

t.test('mvm help TOPIC: every field from the schema, an example that validates; unknown topic exits 2', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mvm-help-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const specs = { profile: jobProfileSpecSchema.shape, policy: policySpecSchema.shape, 'node-config': nodeConfigSpecSchema.shape, workflow: workflowSpecSchema.shape }
  const text: Record<string, string> = {}
  const files: string[] = []
  // the workflow example's steps name the profile example (profile.yaml) next to it
  for (const topic of ['profile', 'topology', 'policy', 'node-config', 'workflow']) {
    const r = await runCli(['help', topic])
    t.equal(r.code, 0, r.stderr)
    text[topic] = r.stdout
    t.match(r.stdout, /^NAME\n/)
    for (const key of Object.keys(specs[topic as keyof typeof specs] ?? {})) t.match(r.stdout, new RegExp(`^  spec\\.${key} `, 'm'), `${topic}: spec.${key} listed`)
    const example = r.stdout.split('\nEXAMPLE\n')[1]!.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.slice(2)).join('\n')
    files.push(join(dir, `${topic}.yaml`))
    await writeFile(files.at(-1)!, example + '\n')
  }
  const v = await runCli(['validate', ...files])
  t.equal(v.code, 0, `the examples validate: ${v.stdout}${v.stderr}`)
  t.equal(v.stdout.match(/^ok /gm)?.length, 5)
  t.match(text['node-config'], /^ {2}spec\.capacity\.slots\s+integer \(>= 1\)\s+\[optional, default 4\]$/m, 'type and default')
  t.match(text.topology, /^ {2}spec\(shape=ring\)\.size /m, 'each shape\'s fields')
  t.match(text.policy, 'The command of the same name: mvm policy --help')

  const topics = await runCli(['help', 'topics'])
  t.match(topics.stdout, /^ {2}profile\s/m)
  t.match(topics.stdout, /^ {2}node-config\s/m)
  const unknown = await runCli(['help', 'nope'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, 'topics: profile, topology, policy, node-config, workflow, topics')
  const cmd = await runCli(['help', 'policy', 'apply'])
  t.equal(cmd.code, 0)
  t.match(cmd.stdout, /^Usage: mvm policy apply/, 'mvm help COMMAND as commander prints it')
})

/** runCli with extra environment variables (piped, like runCli). */
async function runCliEnv (args: string[], env: Record<string, string>): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(process.execPath, [MVM_BIN, ...args], { cwd: ROOT, timeout: 60_000, env: { ...process.env, NO_COLOR: '1', ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code?: number }).code ?? -1, stdout, stderr })
    })
  })
}
