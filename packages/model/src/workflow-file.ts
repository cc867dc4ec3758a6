import { workDirPath } from './data-files.js'
import type { Issue } from '@mvm/core'
import type { ParsedDocument } from './document.js'
import { validate } from './document.js'
import { cycleText, relativeRef } from './files.js'
import type { FileRef } from './files.js'
import type { InternalOptions, Loaded } from './internal.js'
import { workflowSchema, type WorkflowSpec } from './schemas/workflow.js'
import type { LoadedWorkflow, WorkflowStep } from './types.js'

/**
 * A Workflow: its steps' names unique, every `after` and `resultParams` naming a step it may
 * depend on, no cycle, and every step's profile loaded (with its static params) so a typo in
 * the fourth step fails before the first runs.
 */
export async function finishWorkflow (doc: ParsedDocument, ref: FileRef, o: InternalOptions): Promise<Loaded<LoadedWorkflow>> {
  const v = validate(workflowSchema, doc.data, doc)
  const issues: Issue[] = [...doc.issues, ...v.issues]
  if (v.value === undefined) return { issues }
  const { apiVersion, metadata, spec } = v.value
  const at = (path: Array<string | number>, message: string): void => { issues.push(doc.source.issueAt(['spec', 'steps', ...path], message)) }

  const index = new Map<string, number>()
  spec.steps.forEach((s, i) => {
    if (index.has(s.name)) at([i, 'name'], `step '${s.name}' is already defined (steps[${index.get(s.name)!}])`)
    else index.set(s.name, i)
  })
  spec.steps.forEach((s, i) => {
    (s.after ?? []).forEach((d, j) => {
      if (!index.has(d)) at([i, 'after', j], `no step named '${d}'${suggestion(d, [...index.keys()])}`)
      else if (d === s.name) at([i, 'after', j], `step '${s.name}' cannot come after itself`)
    })
  })
  const cycle = findCycle(spec)
  if (cycle !== undefined) at([index.get(cycle[0]!)!, 'after'], `the steps form a cycle: ${cycle.join(' → ')}`)
  const order = cycle === undefined ? topological(spec) : []
  const ancestors = ancestorSets(spec, order)
  spec.steps.forEach((s, i) => {
    for (const [param, src] of Object.entries(s.resultParams ?? {})) {
      const from = src.split('.')[0]!
      if (!index.has(from)) at([i, 'resultParams', param], `no step named '${from}'${suggestion(from, [...index.keys()])}`)
      else if (cycle === undefined && !ancestors.get(s.name)!.has(from)) at([i, 'resultParams', param], `step '${from}' does not run before '${s.name}': list it (or a step after it) under after`)
    }
    for (const [name, src] of Object.entries(s.outputInputs ?? {})) {
      const from = src.slice(0, src.indexOf(':'))
      const n = workDirPath(name)
      if ('error' in n) at([i, 'outputInputs', name], `input name ${n.error}`)
      else if (!index.has(from)) at([i, 'outputInputs', name], `no step named '${from}'${suggestion(from, [...index.keys()])}`)
      else if (cycle === undefined && !ancestors.get(s.name)!.has(from)) at([i, 'outputInputs', name], `step '${from}' does not run before '${s.name}': list it (or a step after it) under after`)
    }
  })
  if (issues.length > 0) return { issues }

  const steps: WorkflowStep[] = []
  for (const name of order) {
    const i = index.get(name)!
    const s = spec.steps[i]!
    const params = Object.fromEntries(Object.entries(s.params ?? {}).map(([k, x]) => [k, String(x)]))
    const target = relativeRef(ref, s.profile)
    const where = doc.source.issueAt(['spec', 'steps', i, 'profile'], '')
    if ([...o.stack, ref].some((r) => r.abs === target.abs)) { at([i, 'profile'], `circular file reference: ${cycleText([...o.stack, ref], target)}`); continue }
    const sub = await o.loadRef(target, { ...o, stack: [...o.stack, ref], params, origin: (p, message) => doc.source.issueAt(['spec', 'steps', i, 'params', p], message) })
    if (sub.missing !== undefined) { at([i, 'profile'], `profile ${sub.missing} (paths are relative to the workflow's folder)`); continue }
    if (sub.result === undefined) { issues.push(...sub.issues); continue }
    if (sub.result.kind !== 'JobProfile') { at([i, 'profile'], `expected a JobProfile file, ${target.file} is a ${sub.result.kind}`); continue }
    steps.push({
      name,
      profileFile: target.abs,
      params,
      after: [...(s.after ?? [])],
      resultParams: Object.fromEntries(Object.entries(s.resultParams ?? {}).map(([k, src]) => { const [step, ...path] = src.split('.'); return [k, { step: step!, path }] })),
      outputInputs: Object.entries(s.outputInputs ?? {}).map(([name, src]) => ({ name: (workDirPath(name) as { ok: string }).ok, step: src.slice(0, src.indexOf(':')), output: src.slice(src.indexOf(':') + 1) })),
      retries: s.retries ?? 0,
      at: { file: where.file, line: where.line, column: where.column }
    })
  }
  if (issues.length > 0) return { issues }
  return { result: { kind: 'Workflow', file: ref.file, apiVersion, metadata, params: doc.params, spec, steps }, issues: [] }
}

function suggestion (name: string, names: string[]): string {
  const near = names.find((n) => n.startsWith(name.slice(0, 3)) && n !== name)
  return near === undefined ? '' : ` (did you mean '${near}'?)`
}

/** A cycle of step names (first repeated at the end), if there is one. */
function findCycle (spec: WorkflowSpec): string[] | undefined {
  const after = new Map(spec.steps.map((s) => [s.name, s.after ?? []]))
  const state = new Map<string, 'open' | 'done'>()
  const path: string[] = []
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done' || !after.has(n)) return undefined
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n]
    state.set(n, 'open'); path.push(n)
    for (const d of after.get(n)!) { const c = visit(d); if (c !== undefined) return c }
    path.pop(); state.set(n, 'done')
    return undefined
  }
  for (const s of spec.steps) { const c = visit(s.name); if (c !== undefined) return c.reverse() }
  return undefined
}

/** Step names, each after every step it comes after; ties keep the file's order. */
function topological (spec: WorkflowSpec): string[] {
  const out: string[] = []
  const placed = new Set<string>()
  while (out.length < spec.steps.length) {
    const next = spec.steps.find((s) => !placed.has(s.name) && (s.after ?? []).every((d) => placed.has(d)))
    if (next === undefined) break
    placed.add(next.name); out.push(next.name)
  }
  return out
}

function ancestorSets (spec: WorkflowSpec, order: string[]): Map<string, Set<string>> {
  const after = new Map(spec.steps.map((s) => [s.name, s.after ?? []]))
  const out = new Map<string, Set<string>>()
  for (const n of order) {
    const set = new Set<string>()
    for (const d of after.get(n) ?? []) { set.add(d); for (const a of out.get(d) ?? []) set.add(a) }
    out.set(n, set)
  }
  return out
}
