// Renders every sample topology (topologies/*.yaml, the profiles' topologies, and a few hard
// cases) to SVG and checks the picture's geometry: labels clear of nodes, edges and each other,
// edges ending on their nodes, the view box holding everything. Text sizes are estimated here
// independently of the renderer, from the font sizes in the SVG's own style sheet.
import t from 'tap'
import type { Test } from 'tap'
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expandTopology, loadProfile, loadTopologyFile, renderSvg } from '@mvm/model'
import type { RankGraph } from '@mvm/model'

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '..')

interface Box { minX: number, minY: number, maxX: number, maxY: number }
interface P { x: number, y: number }
interface Node { rank?: number, box: Box, circle?: { c: P, r: number } }
interface Label { cls: string, text: string, box: Box }
interface Edge { from?: number, to?: number, points: P[], ends: [P, P] }

function attrs (tag: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of tag.matchAll(/([\w:-]+)="([^"]*)"/g)) out[m[1] as string] = m[2] as string
  return out
}

function unescape (s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&')
}

/** Class name → font size and anchor, read from the document's <style>. */
function fonts (svg: string): Map<string, { px: number, anchor: string }> {
  const style = /<style>([\s\S]*?)<\/style>/.exec(svg)?.[1] ?? ''
  const out = new Map<string, { px: number, anchor: string }>()
  for (const m of style.matchAll(/\.([\w-]+)\s*\{([^}]*)\}/g)) {
    const px = /(\d+(?:\.\d+)?)px/.exec(m[2] as string)
    if (px === null) continue
    out.set(m[1] as string, { px: Number(px[1]), anchor: /text-anchor:\s*(\w+)/.exec(m[2] as string)?.[1] ?? 'start' })
  }
  return out
}

/** Points along a path of M, L and Q commands, curves sampled. */
function pathPoints (d: string): P[] {
  const nums = (s: string): number[] => s.trim().split(/[\s,]+/).filter((x) => x !== '').map(Number)
  const pts: P[] = []
  for (const m of d.matchAll(/([MLQ])([^MLQ]*)/g)) {
    const v = nums(m[2] as string)
    if (m[1] === 'Q') {
      const a = pts[pts.length - 1] ?? { x: 0, y: 0 }
      const c = { x: v[0] ?? 0, y: v[1] ?? 0 }
      const b = { x: v[2] ?? 0, y: v[3] ?? 0 }
      for (let i = 1; i <= 16; i++) {
        const s = i / 16
        pts.push({ x: (1 - s) ** 2 * a.x + 2 * (1 - s) * s * c.x + s * s * b.x, y: (1 - s) ** 2 * a.y + 2 * (1 - s) * s * c.y + s * s * b.y })
      }
    } else pts.push({ x: v[0] ?? 0, y: v[1] ?? 0 })
  }
  return pts
}

interface Picture { view: Box, nodes: Node[], labels: Label[], inner: Label[], edges: Edge[] }

function parse (svg: string): Picture {
  const vb = (/viewBox="([^"]+)"/.exec(svg)?.[1] ?? '').split(/\s+/).map(Number)
  const view = { minX: vb[0] ?? 0, minY: vb[1] ?? 0, maxX: (vb[0] ?? 0) + (vb[2] ?? 0), maxY: (vb[1] ?? 0) + (vb[3] ?? 0) }
  const shift = /<g transform="translate\(([-\d.]+),([-\d.]+)\)">/.exec(svg)
  const dx = Number(shift?.[1] ?? 0)
  const dy = Number(shift?.[2] ?? 0)
  const body = svg.slice(shift?.index ?? 0)
  const font = fonts(svg)
  const nodes: Node[] = []
  const labels: Label[] = []
  const inner: Label[] = []
  const edges: Edge[] = []
  const at = (x: number, y: number): P => ({ x: x + dx, y: y + dy })
  for (const m of body.matchAll(/<g class="rank" data-rank="(\d+)">(.*?)<\/g>|<(circle|rect|path|line|text)\b([^>]*?)\/?>(?:([^<]*)<\/text>)?/g)) {
    if (m[1] !== undefined) {
      const rank = Number(m[1])
      const inside = m[2] as string
      const c = /<circle\b([^>]*)\/>/.exec(inside)
      const r = /<rect\b([^>]*)\/>/.exec(inside)
      if (c !== null) {
        const a = attrs(c[1] as string)
        const centre = at(Number(a.cx), Number(a.cy))
        const rad = Number(a.r)
        nodes.push({ rank, circle: { c: centre, r: rad }, box: { minX: centre.x - rad, minY: centre.y - rad, maxX: centre.x + rad, maxY: centre.y + rad } })
      } else if (r !== null) {
        const a = attrs(r[1] as string)
        const o = at(Number(a.x), Number(a.y))
        nodes.push({ rank, box: { minX: o.x, minY: o.y, maxX: o.x + Number(a.width), maxY: o.y + Number(a.height) } })
      }
      for (const tm of inside.matchAll(/<text\b([^>]*)>([^<]*)<\/text>/g)) inner.push(textLabel(attrs(tm[1] as string), unescape(tm[2] as string)))
      continue
    }
    const a = attrs(m[4] as string)
    const kind = m[3]
    if (kind === 'circle') {
      const centre = at(Number(a.cx), Number(a.cy))
      const rad = Number(a.r)
      nodes.push({ circle: { c: centre, r: rad }, box: { minX: centre.x - rad, minY: centre.y - rad, maxX: centre.x + rad, maxY: centre.y + rad } })
    } else if (kind === 'text') {
      const l = textLabel(a, unescape(m[5] ?? ''))
      if (l.cls === 'rank') inner.push(l)
      else labels.push(l)
    } else if (kind === 'path' || kind === 'line') {
      const raw = kind === 'path' ? pathPoints(a.d ?? '') : [{ x: Number(a.x1), y: Number(a.y1) }, { x: Number(a.x2), y: Number(a.y2) }]
      const points = raw.map((p) => at(p.x, p.y))
      if (points.length < 2) continue
      edges.push({
        from: a['data-from'] === undefined ? undefined : Number(a['data-from']),
        to: a['data-to'] === undefined ? undefined : Number(a['data-to']),
        points,
        ends: [points[0] as P, points[points.length - 1] as P]
      })
    }
  }
  return { view, nodes, labels, inner, edges }

  function textLabel (a: Record<string, string>, s: string): Label {
    const cls = a.class ?? ''
    const f = font.get(cls) ?? { px: 10, anchor: 'start' }
    // 0.6 em a character is wide for sans-serif; the box's height is the font size plus leading
    const w = [...s].length * f.px * 0.6
    const h = f.px * 1.2
    const p = a['data-frame'] === undefined && cls !== 'title' ? at(Number(a.x), Number(a.y)) : { x: Number(a.x), y: Number(a.y) }
    const cy = a.dy === '.35em' ? p.y : p.y - f.px * 0.35
    const left = f.anchor === 'middle' ? p.x - w / 2 : f.anchor === 'end' ? p.x - w : p.x
    return { cls, text: s, box: { minX: left, minY: cy - h / 2, maxX: left + w, maxY: cy + h / 2 } }
  }
}

function overlap (a: Box, b: Box): boolean {
  return a.minX < b.maxX && b.minX < a.maxX && a.minY < b.maxY && b.minY < a.maxY
}

/** A label against a node: round nodes by their circle, boxes by their box. */
function onNode (l: Box, n: Node): boolean {
  if (n.circle === undefined) return overlap(l, n.box)
  const { c, r } = n.circle
  const x = Math.max(l.minX, Math.min(c.x, l.maxX))
  const y = Math.max(l.minY, Math.min(c.y, l.maxY))
  return Math.hypot(x - c.x, y - c.y) < r
}

function inside (inner: Box, outer: Box, slack = 0.5): boolean {
  return inner.minX >= outer.minX - slack && inner.minY >= outer.minY - slack && inner.maxX <= outer.maxX + slack && inner.maxY <= outer.maxY + slack
}

/** Does segment a→b pass through the box (shrunk a little, so touching is allowed)? */
function crosses (a: P, b: P, box: Box): boolean {
  const bx = { minX: box.minX + 0.5, minY: box.minY + 0.5, maxX: box.maxX - 0.5, maxY: box.maxY - 0.5 }
  for (let i = 0; i <= 40; i++) {
    const s = i / 40
    const x = a.x + (b.x - a.x) * s
    const y = a.y + (b.y - a.y) * s
    if (x > bx.minX && x < bx.maxX && y > bx.minY && y < bx.maxY) return true
  }
  return false
}

/** Distance from p to the outline of a node (circle rim or box border). */
function offOutline (p: P, n: Node): number {
  if (n.circle !== undefined) return Math.abs(Math.hypot(p.x - n.circle.c.x, p.y - n.circle.c.y) - n.circle.r)
  const b = n.box
  const insideBox = p.x >= b.minX && p.x <= b.maxX && p.y >= b.minY && p.y <= b.maxY
  const dxo = Math.max(b.minX - p.x, 0, p.x - b.maxX)
  const dyo = Math.max(b.minY - p.y, 0, p.y - b.maxY)
  if (!insideBox) return Math.hypot(dxo, dyo)
  return Math.min(p.x - b.minX, b.maxX - p.x, p.y - b.minY, b.maxY - p.y)
}

function check (t: Test, g: RankGraph): void {
  const svg = renderSvg(g)
  const pic = parse(svg)
  t.ok(pic.nodes.length >= g.size, `a node per rank (${pic.nodes.length} drawn for ${g.size})`)
  t.ok(pic.edges.length > 0 || g.size < 2, 'edges are drawn')
  const named = (l: Label): string => `${l.cls} "${l.text}"`
  const problems: string[] = []
  for (const l of pic.labels) {
    for (const n of pic.nodes) if (onNode(l.box, n)) problems.push(`${named(l)} overlaps node ${n.rank ?? '?'}`)
    for (const e of pic.edges) {
      for (let i = 1; i < e.points.length; i++) {
        if (crosses(e.points[i - 1] as P, e.points[i] as P, l.box)) {
          problems.push(`${named(l)} lies under the edge ${e.from ?? '?'}→${e.to ?? '?'}`)
          break
        }
      }
    }
  }
  for (let i = 0; i < pic.labels.length; i++) {
    for (let j = i + 1; j < pic.labels.length; j++) {
      const a = pic.labels[i] as Label
      const b = pic.labels[j] as Label
      if (overlap(a.box, b.box)) problems.push(`${named(a)} overlaps ${named(b)}`)
    }
  }
  t.same(problems, [], 'no label overlaps a node, an edge or another label')

  const ranked = new Map(pic.nodes.filter((n) => n.rank !== undefined).map((n) => [n.rank as number, n]))
  const badEnds: string[] = []
  for (const e of pic.edges) {
    const ends: Array<[P, number | undefined]> = [[e.ends[0], e.from], [e.ends[1], e.to]]
    for (const [p, rank] of ends) {
      // a stub (torus wrap) has only its start on a node; edges without ranks end on some node
      if (rank === undefined && e.from !== undefined) continue
      const candidates = rank === undefined ? pic.nodes : [ranked.get(rank)].filter((n): n is Node => n !== undefined)
      const off = Math.min(Infinity, ...candidates.map((n) => offOutline(p, n)))
      if (!(off <= 2.5)) badEnds.push(`edge ${e.from ?? '?'}→${e.to ?? '?'} ends ${off.toFixed(1)}px off its node at ${p.x.toFixed(1)},${p.y.toFixed(1)}`)
    }
  }
  t.same(badEnds, [], 'every edge ends on the outline of its nodes')

  const innerBad = pic.inner.filter((l) => !pic.nodes.some((n) => inside(l.box, n.box, 1.5)))
  t.same(innerBad.map(named), [], 'rank numbers fit inside their node')

  const outside = [
    ...pic.nodes.filter((n) => !inside(n.box, pic.view)).map((n) => `node ${n.rank ?? '?'}`),
    ...pic.labels.filter((l) => !inside(l.box, pic.view)).map(named),
    ...pic.edges.filter((e) => e.points.some((p) => !inside({ minX: p.x, minY: p.y, maxX: p.x, maxY: p.y }, pic.view))).map((e) => `edge ${e.from ?? '?'}→${e.to ?? '?'}`)
  ]
  t.same(outside, [], 'the view box contains everything')
}

const samples: Array<[string, () => Promise<RankGraph>]> = []
for (const f of (await readdir(join(root, 'topologies'))).filter((f) => f.endsWith('.yaml')).sort()) {
  samples.push([`topologies/${f}`, async () => (await loadTopologyFile(join(root, 'topologies', f))).graph])
}
for (const f of (await readdir(join(root, 'profiles'))).filter((f) => f.endsWith('.yaml')).sort()) {
  samples.push([`profiles/${f}`, async () => (await loadProfile(join(root, 'profiles', f))).topology.graph])
}
const hard: Record<string, unknown> = {
  'complete 12': { shape: 'complete', size: 12 },
  'hypercube 32': { shape: 'hypercube', size: 32 },
  'tree 10 arity 3': { shape: 'tree', size: 10, arity: 3 },
  'torus 2x2': { shape: 'torus', dims: [2, 2] },
  'mesh 3x2x2': { shape: 'mesh', dims: [3, 2, 2] },
  'star 9': { shape: 'star', size: 9 },
  'ring 2': { shape: 'ring', size: 2 },
  'graph with a cycle and long names': {
    shape: 'graph',
    directed: true,
    nodes: [{ name: 'ingest', ports: ['out', 'back'] }, { name: 'transform-stage', ports: ['in', 'out'] }, { name: 'store', ports: ['in', 'ack'] }],
    edges: [{ from: 'ingest.out', to: 'transform-stage.in' }, { from: 'transform-stage.out', to: 'store.in' }, { from: 'store.ack', to: 'ingest.back' }]
  }
}
for (const [name, spec] of Object.entries(hard)) samples.push([name, async () => expandTopology(spec)])

for (const [name, load] of samples) {
  t.test(name, async (t) => { check(t, await load()) })
}

t.test('the checks can fail: a label moved onto a node is caught', async (t) => {
  const svg = renderSvg(expandTopology({ shape: 'ring', size: 4 }))
  const moved = svg.replace(/<text x="[-\d.]+" y="[-\d.]+" dy=".35em" class="port">/, '<text x="0" y="-70" dy=".35em" class="port">')
  t.not(moved, svg)
  const pic = parse(moved)
  t.ok(pic.labels.some((l) => pic.nodes.some((n) => overlap(l.box, n.box))), 'the overlap is detected')
})
