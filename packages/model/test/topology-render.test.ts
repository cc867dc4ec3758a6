import t from 'tap'
import { expandTopology, renderDot, renderJson, renderSvg, renderText, renderTopology } from '@mvm/model'
import type { RankGraph } from '@mvm/model'
import { linkCount } from './topology-fixtures.js'

const SPECS: Record<string, unknown> = {
  ring: { shape: 'ring', size: 4 },
  ring2: { shape: 'ring', size: 2 },
  pipeline: { shape: 'line', size: 4, directed: true },
  star: { shape: 'star', size: 6 },
  mesh: { shape: 'mesh', dims: [3, 3] },
  mesh3: { shape: 'mesh', dims: [3, 2, 2] },
  torus: { shape: 'torus', dims: [4, 4] },
  torus2: { shape: 'torus', dims: [2, 2] },
  tree: { shape: 'tree', size: 10, arity: 3 },
  cube: { shape: 'hypercube', size: 8 },
  hyper: { shape: 'hypercube', size: 32 },
  butterfly: { shape: 'butterfly', size: 8 },
  complete: { shape: 'complete', size: 30 },
  graph: {
    shape: 'graph', directed: true, nodes: [{ name: 'a<b' }, { name: 'c' }].map((n, i) => ({ name: i === 0 ? 'ab' : n.name, label: n.name })),
    edges: [{ from: 'ab.out', to: 'c.in' }]
  }
}

/**
 * A small well-formedness check: tags balance, attributes are quoted, text has no bare `<` or
 * `&`. Enough to catch a renderer that forgets to escape or close something.
 */
function wellFormed (xml: string): string[] {
  const problems: string[] = []
  const stack: string[] = []
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<!--[\s\S]*?-->/g
  let last = 0
  let m: RegExpExecArray | null
  while ((m = tag.exec(xml)) !== null) {
    const between = xml.slice(last, m.index)
    if (/[<>]|&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(between)) problems.push(`bad text before offset ${m.index}: ${between.slice(0, 40)}`)
    last = tag.lastIndex
    if (m[0].startsWith('<!--')) continue
    const [, close, name = '', , selfClose] = m
    if (close === '/') {
      const open = stack.pop()
      if (open !== name) problems.push(`</${name}> closes <${open ?? 'nothing'}>`)
    } else if (selfClose !== '/') stack.push(name)
  }
  if (xml.slice(last).trim() !== '') problems.push('text after the root element')
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(', ')}`)
  return problems
}

t.test('wellFormed catches broken XML (the check itself can fail)', async (t) => {
  t.not(wellFormed('<svg><g></svg>').length, 0)
  t.not(wellFormed('<svg><text>a < b</text></svg>').length, 0)
  t.same(wellFormed('<svg><text>a &lt; b</text><line x="1"/></svg>'), [])
})

for (const [name, spec] of Object.entries(SPECS)) {
  t.test(`${name}: svg, dot, text, json`, async (t) => {
    const g = expandTopology(spec)
    const svg = renderSvg(g)
    t.same(wellFormed(svg), [], 'svg is well-formed')
    t.equal(svg.match(/<svg[\s>]/g)?.length, 1, 'one <svg> element')
    t.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+(\.\d+)?" height="\d+(\.\d+)?"/)
    t.notMatch(svg, /NaN|undefined|Infinity/, 'every coordinate is a number')
    if (g.shape !== 'butterfly') t.equal(svg.match(/class="rank" data-rank=/g)?.length, g.size, 'one drawn node per rank')

    const dot = renderDot(g)
    const edges = dot.match(/ r\d+ (--|->) r\d+ /g) ?? []
    t.equal(edges.length, linkCount(g), 'one DOT edge per link')
    t.equal(dot.match(/^ {2}r\d+ \[label=/gm)?.length, g.size, 'one DOT node per rank')
    t.match(dot, g.directed ? /^digraph / : /^graph /)

    const text = renderText(g)
    t.equal(text.match(/^rank \d+/gm)?.length, g.size, 'one text block per rank')
    t.equal(text.match(/^ {2}\S+ +[↔→←] \d+\.\S+$/gm)?.length ?? 0, linkCount(g) * 2, 'one text line per port')

    t.same(JSON.parse(renderJson(g)) as RankGraph, g, 'json round-trips')
    t.equal(renderTopology(g, 'svg'), svg)
  })
}

t.test('butterfly svg is drawn as stages', async (t) => {
  const svg = renderSvg(expandTopology({ shape: 'butterfly', size: 8 }))
  t.equal(svg.match(/<g class="column" data-column="\d+">/g)?.length, 4, 'columns 0..log2 n')
  for (let s = 0; s < 3; s++) t.match(svg, new RegExp(`class="stage-label">stage ${s}<`), `label for stage ${s}`)
  t.notMatch(svg, />stage 3</, 'no fourth stage')
  t.equal(svg.match(/class="cross"/g)?.length, 8 * 3, 'one crossing line per rank per stage')
  t.equal(svg.match(/class="straight"/g)?.length, 8 * 3, 'one straight line per rank per stage')
  // column 1 shows every rank exactly once
  const col = /<g class="column" data-column="1">(.*?)<\/g>/.exec(svg)?.[1] ?? ''
  t.same([...col.matchAll(/class="rank">(\d+)</g)].map((m) => Number(m[1])), [0, 1, 2, 3, 4, 5, 6, 7])
})

t.test('svg details per shape', async (t) => {
  const torus = renderSvg(expandTopology({ shape: 'torus', dims: [4, 4] }))
  t.equal(torus.match(/class="wrap"/g)?.length, 16, 'a stub at both ends of the 8 wrap links')
  t.match(torus, />12\.south</, 'wrap stubs name their peer')
  const mesh = renderSvg(expandTopology({ shape: 'mesh', dims: [4, 4] }))
  t.notMatch(mesh, /class="wrap"/, 'a mesh has no wrap links')
  const directed = renderSvg(expandTopology({ shape: 'line', size: 3, directed: true }))
  t.equal(directed.match(/marker-end="url\(#arrow\)"/g)?.length, 2, 'directed links carry arrows')
  const undirected = renderSvg(expandTopology({ shape: 'line', size: 3 }))
  t.notMatch(undirected, /marker-end=/)
  t.match(renderSvg(expandTopology({ shape: 'ring', size: 4 })), />next</, 'port names are labelled')
  const escaped = renderSvg(expandTopology({ shape: 'graph', nodes: [{ name: 'n', label: 'a<b & "c"' }] }))
  t.match(escaped, /a&lt;b &amp; &quot;c&quot;/)
})
