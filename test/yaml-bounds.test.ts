import t from 'tap'
import { loadText, ValidationError } from '@mvm/model'
import { startLab, waitFor } from './lib/lab.js'

const HEAD = 'apiVersion: mvm/v1\nkind: JobProfile\nmetadata:\n  name: nested\nspec:\n  program: ./x.js\n  extra:\n'

/** ~200 KB of nesting: block maps, one level per line, each indented one more. */
function blockNested (levels: number): string {
  let s = HEAD
  for (let i = 0; i < levels; i++) s += ' '.repeat(4 + i) + `k${i}:\n`
  return s
}

/** Flow sequences opened one per line, so no line is long. */
function flowNested (levels: number): string {
  return HEAD + '    v: ' + '[\n'.repeat(levels) + ']'.repeat(levels) + '\n'
}

async function issuesOf (text: string): Promise<string[]> {
  try {
    await loadText(text, 'nested.yaml')
  } catch (err) {
    if (err instanceof ValidationError) return err.issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.message}`)
    throw err
  }
  return []
}

t.test('bounds are checked before parsing and name the line', async (t) => {
  t.match(await issuesOf(blockNested(600)), [/^nested\.yaml:\d+:\d+: nesting deeper than 64 levels at line \d+$/])
  t.match(await issuesOf(flowNested(60_000)), [/^nested\.yaml:\d+:1: nesting deeper than 64 levels at line \d+$/])
  t.match(await issuesOf(HEAD + '    s: ' + 'x'.repeat(70_000) + '\n'), [/nested\.yaml:8:1: line is 70007 characters long, over the limit of 65536/])
  t.match(await issuesOf(HEAD + '    a: &a [1]\n' + '    b: [' + Array.from({ length: 1200 }, () => '*a').join(', ') + ']\n'), [/more than 1000 anchors and aliases/])
  t.match(await issuesOf(HEAD + '#'.repeat(1100 * 1024)), [/document is \d+ bytes, over the limit of 1048576/])
  // ordinary documents pass the scan: strings with brackets, quotes, block scalars, moderate nesting
  const fine = await issuesOf(HEAD.replace('  extra:\n', '') + '  topology:\n    kind: ring\n  description: "a [b] {c} \'d\'"\n  notes: |\n        [[[[[[\n  x: [[1, 2], {a: [3]}]\n')
  t.notOk(fine.some((i) => /nesting|limit|anchors/.test(i)), `no bound reported for an ordinary document (${fine.join('; ')})`)
})

t.test('a nested profile sent to SubmitJob is refused without stalling the super-peer', async (t) => {
  const lab = await startLab({ peers: 2, heartbeatMs: 200 })
  t.teardown(async () => { await lab.stop() })
  const doc = blockNested(600)
  t.ok(doc.length > 150_000, `the document is ${doc.length} bytes`)
  // the super-peer serves ListNodes on the same event loop that parses: poll it while the
  // submissions are in flight, and every answer must still list both peers up
  let stop = false
  const downSeen: string[] = []
  let polls = 0
  const poller = (async () => {
    for (let i = 0; i < 2000 && !stop; i++) {
      const nodes = (await lab.broker.ListNodes({})).nodes.filter((n) => n.roles.includes('peer'))
      polls++
      for (const n of nodes) if (n.state !== 'up') downSeen.push(`${n.peerId} ${n.state}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })()
  const faults = await Promise.all(Array.from({ length: 5 }, async (_, i) => {
    const text = i % 2 === 0 ? doc : flowNested(100_000)
    return await lab.broker.SubmitJob({ profileYaml: text, profileName: 'nested.yaml', params: [], bundle: [] }).then(() => null, (e: unknown) => e as { code?: string, message?: string })
  }))
  for (const f of faults) {
    t.equal(f?.code, 'E_VALIDATION', 'refused as a validation error')
    t.match(f?.message, /nested\.yaml:\d+:\d+: nesting deeper than 64 levels at line \d+/, 'the reason names the line')
  }
  // a few heartbeat periods after the burst, the peers must still be up
  const after = polls + 10
  await waitFor(() => polls >= after, 30_000, 'ten more ListNodes answers')
  stop = true
  await poller
  t.same(downSeen, [], 'no peer was seen down during or after the submissions')
})
