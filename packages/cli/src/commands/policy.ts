import type { Command } from 'commander'
import { readFile } from 'node:fs/promises'
import { BadRequestError, ValidationError } from '@mvm/core'
import { loadPolicy, type EffectivePolicySpec, type LoadedPolicy } from '@mvm/model'
import type { ApplyPolicyRequest, ApplyPolicyResponse, BrokerClient } from '@mvm/soap/client'
import { printJson } from '../output.js'
import { brokerOptions, findBroker, type BrokerLocation } from '../remote.js'

interface Opts extends BrokerLocation { json?: boolean, dryRun?: boolean, force?: boolean, previous?: boolean, effective?: boolean, node?: string }

/** The file's name the broker gives its issues (see @mvm/super-peer ApplyPolicy). */
const REMOTE_NAME = 'ApplyPolicy'

/** `mvm policy apply` and `mvm policy show`: the broker's policy at run time, from the shell. */
export function register (program: Command): void {
  const policy = program.command('policy').description('apply a policy to a running broker, or show the one in force')

  brokerOptions(policy.command('apply')
    .description('send a Policy file to the broker; it takes effect at once, without a restart (prints warnings). ' +
      'A change that takes your own right to submit, list jobs, read or apply policies is refused unless --force')
    .argument('[file]', 'Policy YAML file (none with --previous)')
    .option('--dry-run', 'show the effective change (setting by setting) and who would lose which rights; apply nothing')
    .option('--force', 'apply even if it takes your own rights')
    .option('--previous', 'restore the policy in force before the last change (an undo; repeat to go further back)'))
    .action(async (file: string | undefined, o: Opts) => {
      if (o.previous === true) {
        if (file !== undefined) throw new BadRequestError(`mvm policy apply: give a file or --previous, not both (got ${file})`)
        await applyPrevious(o)
        return
      }
      if (file === undefined) throw new BadRequestError('mvm policy apply: missing <file> (or --previous to undo the last change)')
      // validate locally first: errors name the file's own lines without a round trip
      const loaded = await loadPolicy(file)
      const text = loaded.extendsFiles.length > 0 ? flattened(loaded) : await readFile(file, 'utf8')
      const broker = await findBroker(o)
      let res
      try {
        res = await broker.ApplyPolicy({ policyYaml: text, ...flags(o) }, { timeoutMs: 30_000 })
      } catch (err) {
        // the broker validates again (e.g. a strategy it does not know): point at the local file
        if (err instanceof ValidationError && loaded.extendsFiles.length === 0) {
          throw new ValidationError(err.issues.map((i) => i.file === REMOTE_NAME ? { ...i, file } : i))
        }
        throw err
      }
      for (const w of res.warnings) process.stderr.write(`warning: ${w.startsWith(REMOTE_NAME + ':') ? file + w.slice(REMOTE_NAME.length) : w}\n`)
      report(res, broker, `${loaded.metadata.name} (${loaded.spec.level} level)`)
    })

  brokerOptions(policy.command('rollback')
    .description('restore the policy in force before the last change (same as apply --previous), or the one of VERSION (see mvm policy history)')
    .argument('[version]', 'a version number from mvm policy history')
    .option('--dry-run', 'show what the rollback would change; change nothing')
    .option('--force', 'roll back even if it takes your own rights'))
    .action(async (version: string | undefined, o: Opts) => {
      if (version === undefined) { await applyPrevious(o); return }
      if (!/^\d+$/.test(version)) throw new BadRequestError(`mvm policy rollback: VERSION must be a version number from mvm policy history, got ${JSON.stringify(version)}`)
      const broker = await findBroker(o)
      const res = await broker.ApplyPolicy({ version: Number(version), ...flags(o) }, { timeoutMs: 30_000 })
      report(res, broker, `the policy of version ${version}`)
    })

  brokerOptions(policy.command('history')
    .description('every kept version of the broker\'s policy, newest first: when, who, from where, what changed')
    .option('--json', 'the versions as JSON'))
    .action(async (o: Opts) => {
      const { policyJson } = await (await findBroker(o)).GetPolicy({ timeoutMs: 10_000 }, { history: true })
      const h = JSON.parse(policyJson) as { version: number, history: Array<{ version: number, atMs: number, who: string, origin: string, changes: string[], levels: string[] }> }
      if (o.json === true) { printJson(h); return }
      const lines = h.history.length === 0 ? ['(no policy change kept)'] : []
      for (const v of h.history) {
        lines.push(`v${v.version}  ${new Date(v.atMs).toISOString()}  by ${v.who}  from ${v.origin}${v.levels.length > 0 ? `  (applied: ${v.levels.join(', ')})` : ''}${v.version === h.version ? '  [in force]' : ''}`)
        lines.push(...(v.changes.length === 0 ? ['    (no effective change)'] : v.changes.map((c) => `    ${c}`)))
      }
      process.stdout.write(lines.join('\n') + '\n')
    })

  brokerOptions(policy.command('show')
    .description('print the effective policy of the broker (or, with --node, of one node), with --effective every setting and where it came from')
    .option('--effective', 'every setting with its origin: file:line, level, version and group (or "default")')
    .option('--node <node>', 'the policy a node runs (peer ID, short ID, unique prefix or name label); a parent broker asks its child groups')
    .option('--json', 'the whole effective policy with the file and line of every setting'))
    .action(async (o: Opts) => {
      if (o.node !== undefined || o.effective === true) {
        const broker = await findBroker(o)
        const { policyJson } = await broker.GetPolicy({ timeoutMs: 20_000 }, o.node !== undefined ? { node: o.node } : {})
        const st = JSON.parse(policyJson) as NodeState
        if (o.json === true) { printJson(st); return }
        process.stdout.write(effectiveText(st, o.node) + '\n')
        return
      }
      const { policyJson } = await (await findBroker(o)).GetPolicy({ timeoutMs: 10_000 })
      const p = JSON.parse(policyJson) as { version: number, layers: Array<{ origin: string, level: string, name: string }>, spec: EffectivePolicySpec }
      if (o.json === true) { printJson(p); return }
      process.stdout.write(summary(p) + '\n')
    })
}

function flags (o: Opts): Pick<ApplyPolicyRequest, 'dryRun' | 'force'> {
  return { ...(o.dryRun === true ? { dryRun: true } : {}), ...(o.force === true ? { force: true } : {}) }
}

async function applyPrevious (o: Opts): Promise<void> {
  const broker = await findBroker(o)
  const res = await broker.ApplyPolicy({ previous: true, ...flags(o) }, { timeoutMs: 30_000 })
  report(res, broker, 'the previous policy')
}

function report (res: ApplyPolicyResponse, broker: BrokerClient, what: string): void {
  const changes = res.changes ?? []
  const lost = res.lostRights ?? []
  const lines = [
    res.applied ? `applied ${what} to ${broker.url}${res.warnings.length > 0 ? `, ${res.warnings.length} warning(s)` : ''}` : `dry run: ${what} would change ${changes.length} setting(s) on ${broker.url}; nothing applied`
  ]
  lines.push(...(changes.length === 0 ? ['  (the effective policy does not change)'] : changes.map((c) => `  ${c}`)))
  if (lost.length > 0) lines.push(`${res.applied ? 'rights lost' : 'would lose rights'}:`, ...lost.map((l) => `  ${l}`))
  process.stdout.write(lines.join('\n') + '\n')
}

/** The broker does not follow `extends` (it would read its own disk): send the merged document instead. JSON is YAML. */
function flattened (p: LoadedPolicy): string {
  const { extends: _parent, ...spec } = p.spec
  return JSON.stringify({ apiVersion: p.apiVersion, kind: 'Policy', metadata: p.metadata, spec }, null, 2)
}

function quotaText (q: EffectivePolicySpec['scheduling']['quotas']): string {
  const one = (l: { maxRunningRanks?: number, maxQueuedJobs?: number }): string =>
    [l.maxRunningRanks !== undefined ? `${l.maxRunningRanks} running ranks` : '', l.maxQueuedJobs !== undefined ? `${l.maxQueuedJobs} queued jobs` : ''].filter((x) => x !== '').join(', ')
  const parts = [one(q), ...Object.entries(q.users ?? {}).map(([u, l]) => `${u}: ${one(l) === '' ? 'no limit' : one(l)}`)].filter((x) => x !== '')
  return parts.length === 0 ? 'none' : parts.join('; ')
}

function summary (p: { version: number, layers: Array<{ origin: string, level: string, name: string }>, spec: EffectivePolicySpec }): string {
  const s = p.spec
  const subjects = Object.entries(s.security.subjects)
  return [
    `changes    ${p.version} since start`,
    `layers     ${p.layers.length === 0 ? '(defaults only)' : p.layers.map((l) => `${l.level}:${l.name} (${l.origin})`).join(', ')}`,
    `scheduling ${s.scheduling.strategy}${Object.keys(s.scheduling.options).length > 0 ? ' ' + JSON.stringify(s.scheduling.options) : ''}`,
    `quotas     ${quotaText(s.scheduling.quotas)}; fair share ${s.scheduling.fairShare ? 'on' : 'off'}`,
    `security   ${subjects.length === 0 ? 'no subjects: every operation is allowed' : subjects.map(([k, r]) => `${k}=${r.join('+')}`).join(' ')}`,
    `faults     recovery ${s.faultTolerance.recovery}, max restarts ${s.faultTolerance.maxRestarts}`,
    `queues     ${s.queues.type}, capacity ${s.queues.capacity}, ${s.queues.encoding}`,
    `sandbox    ${s.sandbox.driver}, pool ${s.sandbox.poolSize}, defaults ${s.sandbox.defaults.memoryMB} MB / ${s.sandbox.defaults.wallTimeSec} s`
  ].join('\n')
}

interface Origin { file: string, line: number, level: string, version: number, group?: string }
/** A node's policy state (GetPolicy with `node`) or a broker's effective policy (GetPolicy). */
interface NodeState {
  peerId?: string
  group?: string
  version: number
  adoptedAtMs?: number
  policy?: { spec: EffectivePolicySpec, origins?: Record<string, Origin>, warnings?: Array<{ file: string, line: number, path: string, message: string }> }
  spec?: EffectivePolicySpec
  origins?: Record<string, Origin>
  warnings?: Array<{ file: string, line: number, path: string, message: string }>
}

function leafValue (spec: unknown, path: string): unknown {
  let cur = spec
  for (const k of path.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined
  return cur
}

/** One line per setting: path, value, and where it came from (level, version, group, file:line). */
function effectiveText (st: NodeState, node: string | undefined): string {
  const p = st.policy ?? { spec: st.spec!, ...(st.origins !== undefined ? { origins: st.origins } : {}), ...(st.warnings !== undefined ? { warnings: st.warnings } : {}) }
  const origins = p.origins ?? {}
  const head = node !== undefined
    ? `node ${st.peerId ?? node} in group ${st.group ?? '?'}: policy version ${st.version}${st.adoptedAtMs !== undefined ? `, adopted ${new Date(st.adoptedAtMs).toISOString()}` : ''}`
    : `broker of group ${st.group ?? '?'}: policy version ${st.version}`
  const paths = Object.keys(origins).sort()
  const width = Math.max(10, ...paths.map((x) => x.length))
  const rows = paths.map((path) => {
    const o = origins[path]!
    const v = JSON.stringify(leafValue(p.spec, path)) ?? 'undefined'
    const from = o.level === 'default' ? 'default' : `${o.level} v${o.version}${o.group !== undefined && o.group !== '' ? ` ${o.group}` : ''} ${o.file}:${o.line}`
    return `  ${path.padEnd(width)}  ${v.length > 40 ? v.slice(0, 39) + '…' : v.padEnd(16)}  ${from}`
  })
  const warn = (p.warnings ?? []).map((w) => `  warning: ${w.file}:${w.line}: ${w.path}: ${w.message}`)
  return [head, ...rows, ...warn].join('\n')
}
