import t, { type Test } from 'tap'
import { writeFile, rename } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Writable } from 'node:stream'
import { BadRequestError, ValidationError, createLogger, type Logger, type MvmError } from '@mvm/core'
import { loadPolicy, mergePolicies } from '@mvm/model'
import type { FaultTolerance, StrategySpec } from '@mvm/broker'
import { PolicyControl, ftOf, strategyOf, type PolicyEffects } from '../src/policy-control.js'
import { operatorName, permissionsOf } from '../src/policy-auth.js'

const POLICIES = resolve(import.meta.dirname, '..', '..', '..', 'policies')
const INTER_DOMAIN = join(POLICIES, 'inter-domain.yaml')
const DOMAIN_LAB = join(POLICIES, 'domain-lab.yaml')

const policy = (level: string, body: string, name = `test-${level}`): string =>
  `apiVersion: mvm/v1\nkind: Policy\nmetadata:\n  name: ${name}\nspec:\n  level: ${level}\n${body}`

interface Recorded extends PolicyEffects {
  strategies: StrategySpec[]
  faultTolerances: FaultTolerance[]
  broadcasts: string[]
  /** Every effect in call order. */
  calls: string[]
}

function effects (): Recorded {
  const r: Recorded = {
    strategies: [], faultTolerances: [], broadcasts: [], calls: [],
    setStrategy: (s) => { r.strategies.push(s); r.calls.push('setStrategy') },
    setFaultTolerance: (ft) => { r.faultTolerances.push(ft); r.calls.push('setFaultTolerance') },
    broadcast: (json) => { r.broadcasts.push(json); r.calls.push('broadcast') }
  }
  return r
}

/** A real pino logger writing JSON lines into memory, so a test can wait for what was decided. */
function recordingLogger (): { log: Logger, lines: () => Array<Record<string, unknown>> } {
  const out: string[] = []
  const dest = new Writable({ write (chunk: Buffer, _enc, cb) { out.push(chunk.toString()); cb() } })
  const log = createLogger({ format: 'json', level: 'debug', destination: dest })
  return { log, lines: () => out.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) }
}

/** The broker's starting point, as BrokerAgent derives it from the node's merged policy. */
async function runningOf (files: string[]): Promise<{ strategy: StrategySpec, faultTolerance: FaultTolerance }> {
  const eff = mergePolicies(await Promise.all(files.map(async (f) => await loadPolicy(f))))
  return { strategy: strategyOf(eff.spec), faultTolerance: ftOf(eff.spec) }
}

async function started (t: Test, files: string[], opts: { debounceMs?: number } = {}): Promise<{ pc: PolicyControl, fx: Recorded, lines: () => Array<Record<string, unknown>> }> {
  const fx = effects()
  const { log, lines } = recordingLogger()
  const pc = new PolicyControl(fx, log, opts)
  await pc.start(files, await runningOf(files))
  t.teardown(() => { pc.stop() })
  return { pc, fx, lines }
}

/** Polls `cond` every 20 ms, at most `ms` (default 5 s). */
async function until (cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  for (let i = 0; i < Math.ceil(ms / 20) + 1; i++) {
    if (cond()) return
    if (Date.now() > deadline) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

const sent = (json: string | undefined): { version: number, spec: { scheduling: { strategy: string, options: unknown }, faultTolerance: unknown, monitoring?: { intervalSec?: number } } } => JSON.parse(json ?? 'null') as never

t.test('ApplyPolicy switching scheduling.strategy: setStrategy with the new one, broadcast with the next version', async (t) => {
  const { pc, fx } = await started(t, [INTER_DOMAIN, DOMAIN_LAB])
  t.equal(pc.effective.spec.scheduling.strategy, 'least-loaded', 'the files\' strategy')
  t.equal(pc.changes, 0)
  t.same(fx.calls, [], 'loading the files acts on nothing: the broker already runs with them')

  const c1 = await pc.applyYaml(policy('domain', '  scheduling:\n    strategy: pack\n'))
  t.same(c1, { version: 1, warnings: [] })
  // the applied policy replaces the domain level: domain-lab's options { backfill } go with it
  t.same(fx.strategies, [{ type: 'pack', options: {} }], 'setStrategy once, with the new strategy')
  t.same(fx.faultTolerances, [], 'fault tolerance unchanged: not touched')
  t.same(fx.calls, ['setStrategy', 'broadcast'], 'the broker is switched before the group is told')
  t.equal(fx.broadcasts.length, 1)
  const b1 = sent(fx.broadcasts[0])
  t.equal(b1.version, 1, 'broadcast carries version 1')
  t.equal(b1.spec.scheduling.strategy, 'pack')
  t.same(b1.spec, pc.effective.spec, 'broadcast carries the whole merged spec')
  t.equal(pc.changes, 1)
  t.same((pc.describe().layers as Array<{ origin: string }>).map((l) => l.origin), [INTER_DOMAIN, 'ApplyPolicy'], 'the applied policy displaced domain-lab.yaml at its level')

  const c2 = await pc.applyYaml(policy('domain', '  scheduling:\n    strategy: round-robin\n    options: { backfill: false }\n'))
  t.equal(c2.version, 2)
  t.same(fx.strategies.at(-1), { type: 'round-robin', options: { backfill: false } }, 'options travel with the strategy')
  t.equal(sent(fx.broadcasts.at(-1)).version, 2, 'the version increments with every change')

  // the same strategy again: nothing to switch, but it is still a new policy version for the group
  const c3 = await pc.applyYaml(policy('domain', '  scheduling:\n    strategy: round-robin\n    options: { backfill: false }\n  monitoring:\n    intervalSec: 9\n'))
  t.equal(c3.version, 3)
  t.equal(fx.strategies.length, 2, 'an unchanged strategy is not set again')
  t.equal(fx.broadcasts.length, 3)
  t.same(sent(fx.broadcasts[2]).version, 3)
  // heartbeats follow a timing change live (test/policy-heartbeat): nothing to warn about
  t.same(c3.warnings, [], 'a heartbeat timing change takes hold at once, without a warning')
  t.equal(sent(fx.broadcasts[2]).spec.monitoring?.intervalSec, 9, 'the new timing travels with the push')
})

t.test('an unknown strategy is a ValidationError at scheduling.strategy; nothing changes', async (t) => {
  const { pc, fx } = await started(t, [INTER_DOMAIN, DOMAIN_LAB])
  const before = JSON.stringify(pc.describe())
  const yaml = policy('domain', '  scheduling:\n    strategy: no-such-strategy\n')
  const err = await pc.applyYaml(yaml).then(() => undefined, (e: unknown) => e)
  t.type(err, ValidationError)
  t.equal((err as MvmError).code, 'E_VALIDATION')
  const issues = (err as ValidationError).issues
  t.equal(issues.length, 1)
  t.equal(issues[0]?.path, 'scheduling.strategy', 'the issue names scheduling.strategy')
  t.equal(issues[0]?.file, 'ApplyPolicy')
  t.equal(issues[0]?.line, 8, 'the line of `strategy:` in the applied text')
  t.match(issues[0]?.message, /unknown scheduling strategy "no-such-strategy"; known: least-loaded, pack, round-robin, spread/)
  t.same(fx.calls, [], 'no effect was called')
  t.equal(pc.changes, 0, 'version unchanged')
  t.equal(JSON.stringify(pc.describe()), before, 'layers and effective policy unchanged')

  // the rejected change did not use up a version: the next good one is 1
  t.equal((await pc.applyYaml(policy('domain', '  scheduling:\n    strategy: spread\n'))).version, 1)
  t.equal(sent(fx.broadcasts[0]).version, 1)
})

t.test('other refusals: schema errors, `extends`, another kind: typed, and no effect', async (t) => {
  const { pc, fx } = await started(t, [INTER_DOMAIN])
  const bad = await pc.applyYaml(policy('node', '  faultTolerance:\n    recovery: sometimes\n')).then(() => undefined, (e: unknown) => e)
  t.type(bad, ValidationError)
  t.match((bad as ValidationError).issues, [{ file: 'ApplyPolicy', line: 8, path: 'spec.faultTolerance.recovery' }])
  const ext = await pc.applyYaml(policy('node', '  extends: ../../etc/x.yaml\n')).then(() => undefined, (e: unknown) => e)
  t.type(ext, BadRequestError)
  t.equal((ext as MvmError).code, 'E_BAD_REQUEST')
  t.match((ext as Error).message, /extends/)
  await t.rejects(pc.applyYaml(policy('node', '  scheduling: { "extends": x }\n')), { code: 'E_BAD_REQUEST' }, 'flow-style `extends` key is refused too')
  await t.rejects(pc.applyYaml('apiVersion: mvm/v1\nkind: Topology\nmetadata: { name: r }\nspec: { shape: ring, size: 2 }\n'), { code: 'E_BAD_REQUEST', message: /expected a document of kind Policy, got Topology/ })
  t.same(fx.calls, [])
  t.equal(pc.changes, 0)
})

t.test('a fault tolerance change calls setFaultTolerance (and only that)', async (t) => {
  const { pc, fx } = await started(t, [INTER_DOMAIN])
  const c = await pc.applyYaml(policy('domain', '  faultTolerance:\n    recovery: restart\n    maxRestarts: 5\n'))
  t.equal(c.version, 1)
  t.same(fx.faultTolerances, [{ recovery: 'restart', maxRestarts: 5, retryFailedRanks: false, poisonAfter: 2 }], 'the merged fault tolerance (retryFailedRanks from inter-domain.yaml)')
  t.same(fx.strategies, [], 'the strategy did not change')
  t.same(fx.calls, ['setFaultTolerance', 'broadcast'])
  t.same(sent(fx.broadcasts[0]).spec.faultTolerance, { recovery: 'restart', maxRestarts: 5, retryFailedRanks: false, poisonAfter: 2 })

  await pc.applyYaml(policy('domain', '  faultTolerance:\n    recovery: restart\n    maxRestarts: 5\n    retryFailedRanks: true\n'))
  t.same(fx.faultTolerances.at(-1), { recovery: 'restart', maxRestarts: 5, retryFailedRanks: true, poisonAfter: 2 })
  t.equal(fx.faultTolerances.length, 2)
})

t.test('an enforced setting cannot be changed below its level: a warning, no setStrategy', async (t) => {
  const { pc, fx } = await started(t, [INTER_DOMAIN, DOMAIN_LAB])
  const c = await pc.applyYaml(policy('node', '  scheduling:\n    strategy: pack\n'))
  t.equal(c.version, 1)
  t.equal(c.warnings.length, 1)
  t.match(c.warnings[0], `ApplyPolicy:8:`)
  t.match(c.warnings[0], /scheduling\.strategy: ignored: 'scheduling\.strategy' is enforced by the domain policy at .*domain-lab\.yaml/)
  t.same(fx.strategies, [], 'domain-lab.yaml enforces the strategy: the broker keeps least-loaded')
  t.equal(pc.effective.spec.scheduling.strategy, 'least-loaded')
})

t.test('a watched policy file edited on disk is applied; bad edits and touches are not', async (t) => {
  const dir = t.testdir({ 'domain.yaml': policy('domain', '  scheduling:\n    strategy: spread\n') })
  const file = join(dir, 'domain.yaml')
  const { pc, fx, lines } = await started(t, [file], { debounceMs: 20 })
  t.equal(pc.effective.spec.scheduling.strategy, 'spread')

  await writeFile(file, policy('domain', '  scheduling:\n    strategy: pack\n  faultTolerance:\n    maxRestarts: 7\n'))
  await until(() => fx.broadcasts.length === 1, 'the edited file to be applied')
  t.same(fx.strategies, [{ type: 'pack', options: {} }], 'setStrategy with the file\'s new strategy')
  t.same(fx.faultTolerances, [{ recovery: 'requeue', maxRestarts: 7, retryFailedRanks: false, poisonAfter: 2 }], 'and its new fault tolerance')
  t.equal(sent(fx.broadcasts[0]).version, 1)
  t.equal(sent(fx.broadcasts[0]).spec.scheduling.strategy, 'pack')
  t.equal(pc.changes, 1)

  // an editor's save: write a temp file and rename it over the policy
  await writeFile(join(dir, '.domain.yaml.swp'), policy('domain', '  scheduling:\n    strategy: round-robin\n  faultTolerance:\n    maxRestarts: 7\n'))
  await rename(join(dir, '.domain.yaml.swp'), file)
  await until(() => fx.broadcasts.length === 2, 'the renamed-over file to be applied')
  t.same(fx.strategies.at(-1), { type: 'round-robin', options: {} })
  t.equal(fx.faultTolerances.length, 1, 'fault tolerance did not change this time')

  // a bad edit: logged with its location, nothing applied
  const calls = fx.calls.length
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: no-such-strategy\n'))
  await until(() => lines().some((l) => typeof l.msg === 'string' && l.msg.includes('policy file change rejected')), 'the rejection to be logged')
  const rejected = lines().find((l) => typeof l.msg === 'string' && l.msg.includes('policy file change rejected'))
  t.match(rejected?.msg, `${file}:8:`, 'the log names file:line')
  t.match(rejected?.msg, /scheduling\.strategy: unknown scheduling strategy "no-such-strategy"/)
  t.equal(fx.calls.length, calls, 'no effect for a bad edit')
  t.equal(pc.changes, 2)
  t.equal(pc.effective.spec.scheduling.strategy, 'round-robin', 'the current policy stays')

  // a save that changes nothing relative to the policy in force is not a change
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: round-robin\n  faultTolerance:\n    maxRestarts: 7\n'))
  await until(() => lines().some((l) => l.msg === 'policy file touched; nothing changed'), 'the touch to be recognised')
  t.equal(fx.calls.length, calls, 'no effect for a touch')
  t.equal(pc.changes, 2)
})

t.test('an ApplyPolicy displaces a file at its level; the file\'s next edit brings it back', async (t) => {
  const dir = t.testdir({ 'domain.yaml': policy('domain', '  scheduling:\n    strategy: spread\n') })
  const file = join(dir, 'domain.yaml')
  const { pc, fx } = await started(t, [file], { debounceMs: 20 })
  await pc.applyYaml(policy('domain', '  scheduling:\n    strategy: pack\n'))
  t.same((pc.describe().layers as Array<{ origin: string }>).map((l) => l.origin), ['ApplyPolicy'])
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: least-loaded\n'))
  await until(() => fx.broadcasts.length === 2, 'the file edit after ApplyPolicy to be applied')
  t.same(fx.strategies, [{ type: 'pack', options: {} }, { type: 'least-loaded', options: {} }])
  t.same((pc.describe().layers as Array<{ origin: string }>).map((l) => l.origin), [file], 'the file is the newest word at its level again')
  t.equal(sent(fx.broadcasts[1]).version, 2)
})

t.test('a file reached through `extends` is watched: editing the parent reloads the child', async (t) => {
  const dir = t.testdir({
    'base.yaml': policy('domain', '  scheduling:\n    strategy: spread\n', 'base'),
    'lab.yaml': policy('domain', '  extends: base.yaml\n  monitoring:\n    intervalSec: 3\n', 'lab')
  })
  const { pc, fx } = await started(t, [join(dir, 'lab.yaml')], { debounceMs: 20 })
  t.equal(pc.effective.spec.scheduling.strategy, 'spread', 'from the parent')
  await writeFile(join(dir, 'base.yaml'), policy('domain', '  scheduling:\n    strategy: pack\n', 'base'))
  await until(() => fx.broadcasts.length === 1, 'the parent\'s edit to be applied')
  t.same(fx.strategies, [{ type: 'pack', options: {} }])
  t.equal(pc.effective.spec.monitoring.intervalSec, 3, 'the child\'s own settings stay')
})

t.test('after stop() file edits are no longer applied', async (t) => {
  const dir = t.testdir({ 'domain.yaml': policy('domain', '  scheduling:\n    strategy: spread\n') })
  const file = join(dir, 'domain.yaml')
  const { pc, fx } = await started(t, [file], { debounceMs: 20 })
  pc.stop()
  await writeFile(file, policy('domain', '  scheduling:\n    strategy: pack\n'))
  // 25 debounce periods: a live watcher would have applied it long before
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.same(fx.calls, [])
  t.equal(pc.changes, 0)
})

t.test('applied policies are persisted, restored on start, dropped when unparsable', async (t) => {
  const stored: string[][] = []
  const persist = (texts: string[]): void => { stored.push(texts) }
  const first = await started(t, [INTER_DOMAIN])
  await first.pc.restore([], persist)
  t.same(stored, [], 'nothing stored, nothing written')
  const text = policy('domain', '  scheduling:\n    strategy: pack\n', 'kept')
  await first.pc.applyYaml(text)
  t.same(stored.at(-1), [text], 'the applied YAML is stored as sent')
  await t.rejects(first.pc.applyYaml(policy('domain', '  scheduling:\n    strategy: nope\n')), { code: 'E_VALIDATION' })
  t.equal(stored.length, 1, 'a rejected policy stores nothing')

  // a new life: the stored text comes back as the applied layer and acts on the broker
  const second = await started(t, [INTER_DOMAIN])
  await second.pc.restore(stored.at(-1)!, persist)
  t.equal(second.pc.effective.spec.scheduling.strategy, 'pack')
  t.match(second.pc.describe().layers, [{ origin: INTER_DOMAIN }, { origin: 'ApplyPolicy', name: 'kept' }])
  t.same(second.fx.strategies, [{ type: 'pack', options: {} }], 'the restored strategy was set on the broker')

  const third = await started(t, [INTER_DOMAIN])
  const before = stored.length
  await third.pc.restore(['kind: Nope\n'], persist)
  t.notOk((third.pc.describe().layers as Array<{ origin: string }>).some((l) => l.origin === 'ApplyPolicy'), 'the files\' policy stays, no applied layer')
  t.same(stored.slice(before), [[]], 'the bad stored text is removed')
  t.match(third.lines().map((l) => l.msg).join('\n'), /stored applied policy no longer validates and is dropped/)
})

t.test('change: a dry run reports settings and lost rights and changes nothing', async (t) => {
  const { pc, fx } = await started(t, [])
  const text = policy('domain', "  scheduling: { strategy: round-robin }\n  security:\n    roles: { admin: ['*'] }\n    subjects: { boss: [admin] }\n")
  const r = await pc.change({ text, dryRun: true, subject: 'carol' })
  t.equal(r.applied, false)
  t.ok(r.changes.includes('scheduling.strategy: "least-loaded" -> "round-robin"'), r.changes.join('\n'))
  t.ok(r.changes.includes('security.subjects.boss: unset -> ["admin"]'))
  t.match(r.lostRights, [/^carol \(you\): job\.submit, /, /^any other subject: /])
  t.notOk(r.lostRights.some((l) => l.startsWith('boss')), 'boss keeps every right')
  t.equal(pc.changes, 0, 'no version change')
  t.same(fx.calls, [], 'no effect ran')
})

t.test('change: taking the caller\'s own rights is refused unless forced; previous undoes, in order', async (t) => {
  const { pc } = await started(t, [])
  const lock = policy('domain', "  security:\n    roles: { admin: ['*'] }\n    subjects: { boss: [admin] }\n")
  await t.rejects(pc.change({ text: lock, subject: 'carol' }), { code: 'E_INVALID_STATE', message: /subject "carol" would lose job\.submit, job\.list, policy\.apply, policy\.read/ })
  t.equal(pc.changes, 0, 'refused before the swap')
  const ok = await pc.change({ text: lock, subject: 'boss' })
  t.equal(ok.applied, true, 'boss keeps its rights: no force needed')
  const more = policy('domain', "  scheduling: { strategy: round-robin }\n  security:\n    roles: { admin: ['*'] }\n    subjects: { boss: [admin], '*': [admin] }\n")
  t.equal((await pc.change({ text: more, subject: 'boss' })).applied, true)
  t.equal(pc.effective.spec.scheduling.strategy, 'round-robin')
  t.same([...Object.keys(pc.effective.spec.security.subjects)].sort(), ['*', 'boss'])
  // rolling back to the lock would take carol's rights (she has them through '*')
  await t.rejects(pc.change({ previous: true, subject: 'carol' }), { code: 'E_INVALID_STATE' })
  t.equal((await pc.change({ previous: true, subject: 'carol', force: true })).applied, true, 'forced')
  t.same(Object.keys(pc.effective.spec.security.subjects), ['boss'])
  t.equal((await pc.change({ previous: true, subject: 'boss' })).applied, true)
  t.same(pc.effective.spec.security.subjects, {}, 'back to the start')
  await t.rejects(pc.change({ previous: true, subject: 'boss' }), { code: 'E_INVALID_STATE', message: /no earlier policy/ })
  await t.rejects(pc.change({ subject: 'boss' }), { code: 'E_BAD_REQUEST', message: /policyYaml is missing/ })
})

t.test('the sample policies keep the broker\'s own OS account ($USER rule) an admin', async (t) => {
  const { pc } = await started(t, [INTER_DOMAIN, DOMAIN_LAB])
  t.same([...permissionsOf(pc.effective.spec.security, operatorName()) ?? []], ['*'])
  t.equal(permissionsOf(pc.effective.spec.security, 'someone-else'), undefined, 'other names are not matched')
})
