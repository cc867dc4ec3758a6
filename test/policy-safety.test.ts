// Issue 16 item 2: policies are safe to try on a running lab — dry run, refusal of a change that
// locks the caller out (unless --force), undo, one identity for every command, and the sample
// policies keep the lab usable as shipped. Real node processes, the real CLI over SOAP.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { MVM_BIN } from '@mvm/cli'
import { ROOT, startLab, type TestLab } from './lib/lab.js'

interface Run { code: number | null, stdout: string, stderr: string }

/** The real CLI with a controlled identity: $MVM_USER only when given. */
async function mvm (lab: TestLab, args: string[], user?: string): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', MVM_BOOTSTRAP: lab.bootstrap }
  delete env.MVM_USER
  delete env.MVM_BROKER
  if (user !== undefined) env.MVM_USER = user
  return await new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [MVM_BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env })
    let stdout = ''
    let stderr = ''
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => c.kill('SIGKILL'), 120_000)
    c.on('error', (err) => { clearTimeout(timer); reject(err) })
    c.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

const ok = (t: Test, r: Run, what: string): void => { t.equal(r.code, 0, `${what} exits 0${r.code === 0 ? '' : `:\n${r.stdout}${r.stderr}`}`) }
const PRIMES = ['profiles/primes.yaml', '-p', 'processes=2', '-p', 'n=1000']
const ME = userInfo().username

const policy = (name: string, security: string): string =>
  `apiVersion: mvm/v1\nkind: Policy\nmetadata: { name: ${name} }\nspec:\n  level: domain\n  security:\n${security}`

async function version (lab: TestLab): Promise<number> {
  return (JSON.parse((await lab.broker.GetPolicy({ timeoutMs: 10_000 })).policyJson) as { version: number }).version
}

t.test('policy safety on a real lab', { timeout: 600_000 }, async (t) => {
  const lab = await startLab({ peers: 1, slots: 2 })
  const dir = await mkdtemp(join(tmpdir(), 'mvm-pol-'))
  t.teardown(async () => { await lab.stop(); await rm(dir, { recursive: true, force: true }) })
  const locking = join(dir, 'locking.yaml')
  await writeFile(locking, policy('locking', "    roles: { admin: ['*'] }\n    subjects: { lab-admin: [admin] }\n"))

  await t.test('every sample policy, applied as shipped, leaves submit, jobs and policy show working', async (t) => {
    const samples = (await readdir(join(ROOT, 'policies'))).filter((f) => f.endsWith('.yaml')).sort()
    t.ok(samples.includes('domain-lab.yaml'), 'domain-lab.yaml is among the samples')
    for (const f of samples) {
      const applied = await mvm(lab, ['policy', 'apply', join('policies', f)])
      ok(t, applied, `mvm policy apply policies/${f}`)
      t.match(applied.stdout, /^applied /, `${f}: applied`)
      const sub = await mvm(lab, ['submit', ...PRIMES, '--wait'])
      ok(t, sub, `${f}: mvm submit --wait`)
      t.match(sub.stdout, /168/, `${f}: the job ran (primes below 1000)`)
      ok(t, await mvm(lab, ['jobs']), `${f}: mvm jobs`)
      ok(t, await mvm(lab, ['policy', 'show']), `${f}: mvm policy show`)
    }
    // back to the open policy for the next tests (one rollback per sample applied)
    for (const f of samples) ok(t, await mvm(lab, ['policy', 'rollback']), `rollback after ${f}`)
    t.match((await mvm(lab, ['policy', 'show'])).stdout, /layers\s+\(defaults only\)/, 'all rolled back')
  })

  await t.test('--dry-run shows the change setting by setting and who loses what, and applies nothing', async (t) => {
    const before = await version(lab)
    const r = await mvm(lab, ['policy', 'apply', '--dry-run', locking])
    ok(t, r, 'dry run')
    t.match(r.stdout, /^dry run: locking \(domain level\) would change \d+ setting\(s\)/)
    t.match(r.stdout, /security\.subjects\.lab-admin: unset -> \["admin"\]/)
    t.match(r.stdout, /security\.roles\.admin: unset -> \["\*"\]/)
    t.match(r.stdout, new RegExp(`${ME} \\(you\\): job\\.submit, .*policy\\.apply`), 'the caller is named as losing its rights')
    t.match(r.stdout, /any other subject: job\.submit/)
    t.equal(await version(lab), before, 'the policy did not change')
  })

  await t.test('a change that locks the caller out is refused, server side, unless --force; rollback undoes it', async (t) => {
    const before = await version(lab)
    const r = await mvm(lab, ['policy', 'apply', locking])
    t.not(r.code, 0)
    t.match(r.stderr, /E_INVALID_STATE: ApplyPolicy refused: subject "[^"]+" would lose job\.submit, job\.list, policy\.apply, policy\.read/)
    t.match(r.stderr, /--force/)
    t.equal(await version(lab), before, 'refused: nothing changed')
    // the same request straight over SOAP (no CLI involved) is refused the same way
    const text = policy('locking', "    roles: { admin: ['*'] }\n    subjects: { lab-admin: [admin] }\n")
    await t.rejects(lab.broker.ApplyPolicy({ policyYaml: text, subject: 'somebody' }), { code: 'E_INVALID_STATE', message: /subject "somebody" would lose/ })
    ok(t, await mvm(lab, ['jobs']), 'jobs still work')

    const forced = await mvm(lab, ['policy', 'apply', '--force', locking])
    ok(t, forced, 'apply --force')
    t.match(forced.stdout, /rights lost:/)
    const jobs = await mvm(lab, ['jobs'])
    t.not(jobs.code, 0, 'now locked out, as forced')
    t.match(jobs.stderr, new RegExp(`E_FORBIDDEN: subject "${ME}"`), 'jobs sends the same subject as submit (not "anonymous")')
    t.match((await mvm(lab, ['policy', 'rollback'])).stderr, /E_FORBIDDEN/, 'the locked-out user cannot roll back')
    const back = await mvm(lab, ['policy', 'apply', '--previous'], 'lab-admin')
    ok(t, back, 'lab-admin (via $MVM_USER) rolls back with apply --previous')
    t.match((await mvm(lab, ['policy', 'show'])).stdout, /no subjects: every operation is allowed/, 'the previous (open) policy is back')
    ok(t, await mvm(lab, ['jobs']), 'jobs work again')
  })

  await t.test('one identity: --user, $MVM_USER or the OS account, the same in every command', async (t) => {
    const named = join(dir, 'named.yaml')
    await writeFile(named, policy('named', "    roles: { admin: ['*'], user: [job.submit, job.status, job.result, job.list, policy.read] }\n    subjects: { alice: [user], $USER: [admin] }\n"))
    ok(t, await mvm(lab, ['policy', 'apply', named]), 'apply a policy naming alice and the operator')
    const sub = await mvm(lab, ['submit', ...PRIMES, '--user', 'alice'])
    ok(t, sub, 'submit --user alice')
    const id = sub.stdout.trim()
    const status = await mvm(lab, ['status', id, '--user', 'alice'])
    ok(t, status, 'status --user alice')
    t.match(status.stdout, /owner\s+alice/, 'the job is alice\'s')
    ok(t, await mvm(lab, ['jobs'], 'alice'), 'jobs as alice through $MVM_USER')
    ok(t, await mvm(lab, ['policy', 'show', '--user', 'alice']), 'policy show as alice')
    for (const args of [['jobs'], ['status', id], ['policy', 'show'], ['submit', ...PRIMES]]) {
      const r = await mvm(lab, [...args, '--user', 'mallory'])
      t.match(r.stderr, /E_FORBIDDEN: subject "mallory" is not defined/, `mvm ${args[0]!} --user mallory is refused as mallory`)
    }
    const asAlice = await mvm(lab, ['policy', 'apply', locking, '--user', 'alice'])
    t.match(asAlice.stderr, /subject "alice" \(roles: user\) lacks permission policy\.apply/, 'apply checks the caller\'s own right first')
    ok(t, await mvm(lab, ['jobs']), `the OS account (${ME}) matches the $USER rule`)
    ok(t, await mvm(lab, ['policy', 'rollback']), 'rollback')
  })
})
