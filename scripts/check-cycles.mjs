#!/usr/bin/env node
// Fails on an import cycle between the workspace's @mvm/* packages, and on a package whose
// src imports an @mvm/* package that its package.json does not declare.
//
//   node scripts/check-cycles.mjs [root]     (root defaults to this repository)
//
// The graph's edges are the @mvm/* names in each packages/*/package.json (dependencies,
// devDependencies, peerDependencies, optionalDependencies) plus every @mvm/* module that
// packages/*/src/**/*.ts imports: `from '@mvm/x'`, `import '@mvm/x'`, `import('@mvm/x')`,
// `require('@mvm/x')` (type-only imports count too: tsc -b cannot build a reference cycle).
// An import in src must be declared in dependencies, peerDependencies or
// optionalDependencies; devDependencies are not there for the package's users.
// Plain Node, no dependencies. Exit 0 with a one-line summary, or 1 with every problem.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const SCOPE = '@mvm/'
const DEP_FIELDS = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']
const RUNTIME_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies']
const SOURCE_EXT = /\.(?:ts|mts|cts|tsx)$/
const SPEC = String.raw`(['"])(@mvm\/[^'"/\s]+)(?:\/[^'"\s]*)?\1`
const IMPORT_RES = [
  new RegExp(String.raw`\bfrom\s*` + SPEC, 'g'),
  new RegExp(String.raw`\bimport\s*` + SPEC, 'g'),
  new RegExp(String.raw`\b(?:import|require)\s*\(\s*` + SPEC, 'g')
]

const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'))
const rel = (p) => path.relative(root, p).split(path.sep).join('/')

/** Blanks out comments (keeping newlines, so line numbers hold) so that examples in docs are not imports. */
function stripComments (text) {
  let out = ''
  let i = 0
  let quote = ''
  while (i < text.length) {
    const c = text[i]
    const next = text[i + 1]
    if (quote !== '') {
      out += c
      if (c === '\\' && next !== undefined) { out += next; i += 2; continue }
      if (c === quote || (c === '\n' && quote !== '`')) quote = ''
      i++
    } else if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') { out += ' '; i++ }
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2)
      const stop = end === -1 ? text.length : end + 2
      out += text.slice(i, stop).replace(/[^\n]/g, ' ')
      i = stop
    } else {
      if (c === '\'' || c === '"' || c === '`') quote = c
      out += c
      i++
    }
  }
  return out
}

function sourceFiles (dir) {
  let entries
  try { entries = readdirSync(dir, { withFileTypes: true }) } catch { return [] }
  const files = []
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules' && e.name !== 'dist') files.push(...sourceFiles(p))
    } else if (SOURCE_EXT.test(e.name)) {
      files.push(p)
    }
  }
  return files
}

/** `{ name, line }` for every @mvm/* module the file imports (line is 1-based). */
function importsOf (file) {
  const text = stripComments(readFileSync(file, 'utf8'))
  const found = new Map()
  for (const re of IMPORT_RES) {
    for (const m of text.matchAll(re)) {
      const at = m.index + m[0].indexOf(m[1])
      if (!found.has(at)) found.set(at, { name: m[2], line: text.slice(0, at).split('\n').length })
    }
  }
  return [...found.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)
}

// ---- read the workspace ----
const packagesDir = path.join(root, 'packages')
let dirs
try {
  dirs = readdirSync(packagesDir).filter((d) => {
    try { return statSync(path.join(packagesDir, d, 'package.json')).isFile() } catch { return false }
  }).sort()
} catch (err) {
  console.error(`check-cycles: cannot read ${packagesDir}: ${err.message}`)
  process.exit(1)
}

const problems = []
/** name -> { dir, manifest, declared: Map<dep, field[]> } */
const pkgs = new Map()
for (const d of dirs) {
  const file = path.join(packagesDir, d, 'package.json')
  let manifest
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    problems.push(`${rel(file)}: cannot parse: ${err.message}`)
    continue
  }
  const name = typeof manifest.name === 'string' ? manifest.name : `${SCOPE}${d}`
  const declared = new Map()
  for (const field of DEP_FIELDS) {
    for (const dep of Object.keys(manifest[field] ?? {})) {
      if (dep.startsWith(SCOPE)) declared.set(dep, [...(declared.get(dep) ?? []), field])
    }
  }
  pkgs.set(name, { dir: path.join(packagesDir, d), manifest: file, declared })
}

// ---- edges, with the reason for each (first seen) ----
/** from -> Map<to, reason> */
const edges = new Map()
const addEdge = (from, to, why) => {
  if (from === to) return
  const out = edges.get(from) ?? new Map()
  if (!out.has(to)) out.set(to, why)
  edges.set(from, out)
}

let scanned = 0
for (const [name, pkg] of pkgs) {
  edges.set(name, edges.get(name) ?? new Map())
  for (const [dep, fields] of pkg.declared) addEdge(name, dep, `${fields[0]} in ${rel(pkg.manifest)}`)
  for (const file of sourceFiles(path.join(pkg.dir, 'src'))) {
    scanned++
    for (const { name: dep, line } of importsOf(file)) {
      if (dep === name) continue // a package may import itself by name
      const where = `${rel(file)}:${line}`
      addEdge(name, dep, `import in ${where}`)
      const fields = pkg.declared.get(dep) ?? []
      if (!fields.some((f) => RUNTIME_FIELDS.includes(f))) {
        const how = fields.length === 0 ? 'does not declare it' : `declares it only in ${fields.join(', ')}`
        problems.push(`${where}: ${name} imports ${dep}, but ${rel(pkg.manifest)} ${how} (add it to dependencies)`)
      }
    }
  }
}

// ---- cycles: a DFS over the workspace packages; each back edge closes one cycle ----
const cycles = []
const seen = new Set()
const state = new Map() // name -> 'open' | 'done'
const stack = []
function visit (node) {
  state.set(node, 'open')
  stack.push(node)
  for (const to of [...(edges.get(node)?.keys() ?? [])].sort()) {
    if (!pkgs.has(to)) continue // not a workspace package: cannot close a cycle here
    if (state.get(to) === 'open') {
      const cycle = stack.slice(stack.indexOf(to))
      // one report per cycle, whichever node the DFS entered it by
      const start = cycle.indexOf([...cycle].sort()[0])
      const canonical = [...cycle.slice(start), ...cycle.slice(0, start)]
      const key = canonical.join(' ')
      if (!seen.has(key)) { seen.add(key); cycles.push(canonical) }
    } else if (!state.has(to)) {
      visit(to)
    }
  }
  stack.pop()
  state.set(node, 'done')
}
for (const name of [...pkgs.keys()].sort()) if (!state.has(name)) visit(name)

for (const cycle of cycles) {
  const ring = [...cycle, cycle[0]]
  const why = ring.slice(1).map((to, i) => `    ${ring[i]} -> ${to}: ${edges.get(ring[i]).get(to)}`)
  problems.push(`import cycle: ${ring.join(' -> ')}\n${why.join('\n')}`)
}

const edgeCount = [...edges.values()].reduce((n, out) => n + [...out.keys()].filter((to) => pkgs.has(to)).length, 0)
if (problems.length > 0) {
  for (const p of problems) console.error(p)
  console.error(`check-cycles: ${problems.length} problem${problems.length === 1 ? '' : 's'} (${cycles.length} cycle${cycles.length === 1 ? '' : 's'}) in ${pkgs.size} packages`)
  process.exit(1)
}
console.log(`check-cycles: ${pkgs.size} packages, ${edgeCount} @mvm/* edges, ${scanned} source files: no cycles, every src import declared`)
