// Runs scripts/check-cycles.mjs (part of `npm run lint`) on small fixture workspaces.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const script = path.join(root, 'scripts', 'check-cycles.mjs')

/** A fixture directory: file name -> content, or a subdirectory. */
interface Dir { [name: string]: string | Dir }

interface Pkg {
  deps?: Record<string, Record<string, string>>
  src?: Dir
}

/** A workspace fixture: packages/<dir>/package.json named @mvm/<dir>, and its src files. */
function workspace (pkgs: Record<string, Pkg>): Dir {
  const packages: Dir = {}
  for (const [dir, p] of Object.entries(pkgs)) {
    packages[dir] = {
      'package.json': JSON.stringify({ name: `@mvm/${dir}`, version: '0.1.0', type: 'module', ...p.deps }, null, 2),
      src: p.src ?? { 'index.ts': 'export const x = 1\n' }
    }
  }
  return { packages }
}

function check (dir: string): Promise<{ code: number, out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, dir], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1
      resolve({ code, out: stdout + stderr })
    })
  })
}

t.test('a graph without cycles passes with a one-line summary', async (t) => {
  const dir = t.testdir(workspace({
    core: {},
    model: { deps: { dependencies: { '@mvm/core': '0.1.0', yaml: '^2.0.0' } }, src: { 'index.ts': "import { x } from '@mvm/core'\nexport const y = x\n" } },
    cli: {
      deps: { dependencies: { '@mvm/core': '0.1.0', '@mvm/model': '0.1.0' } },
      src: {
        'index.ts': "import type { y } from '@mvm/model'\nexport type Y = typeof y\n",
        // a subpath, a dynamic import, a re-export, and an import of the package itself
        nested: { 'deep.ts': "import '@mvm/core/polyfill'\nexport * from '@mvm/model'\nexport const load = async () => await import('@mvm/core')\nexport { Y } from '@mvm/cli'\n" }
      }
    }
  }))
  const r = await check(dir)
  t.equal(r.code, 0, r.out)
  t.equal(r.out, 'check-cycles: 3 packages, 3 @mvm/* edges, 4 source files: no cycles, every src import declared\n')
})

t.test('a cycle through package.json dependencies fails and prints it', async (t) => {
  const dir = t.testdir(workspace({
    a: { deps: { dependencies: { '@mvm/b': '0.1.0' } } },
    b: { deps: { devDependencies: { '@mvm/c': '0.1.0' } } },
    c: { deps: { peerDependencies: { '@mvm/a': '0.1.0' } } },
    d: { deps: { dependencies: { '@mvm/a': '0.1.0' } } }
  }))
  const r = await check(dir)
  t.equal(r.code, 1, r.out)
  t.match(r.out, 'import cycle: @mvm/a -> @mvm/b -> @mvm/c -> @mvm/a\n')
  t.match(r.out, '@mvm/b -> @mvm/c: devDependencies in packages/b/package.json')
  t.match(r.out, '@mvm/c -> @mvm/a: peerDependencies in packages/c/package.json')
  t.notMatch(r.out, '@mvm/d ->', 'a package that only leads into the cycle is not part of it')
  t.match(r.out, 'check-cycles: 1 problem (1 cycle) in 4 packages')
})

t.test('a cycle closed by a src import is found, and the undeclared import is reported with file:line', async (t) => {
  // broker depends on core (package.json); core's src reaches back into broker without declaring it
  const dir = t.testdir(workspace({
    core: {
      src: {
        'index.ts': "// not an import: from '@mvm/jobs'\n/* nor import('@mvm/jobs') */\nexport const x = 1\n",
        'late.ts': "export const a = 1\n\nexport const late = async () => (await import('@mvm/broker')).b\n"
      }
    },
    broker: { deps: { dependencies: { '@mvm/core': '0.1.0' } }, src: { 'index.ts': "export { x } from '@mvm/core'\nexport const b = 2\n" } }
  }))
  const r = await check(dir)
  t.equal(r.code, 1, r.out)
  t.match(r.out, 'packages/core/src/late.ts:3: @mvm/core imports @mvm/broker, but packages/core/package.json does not declare it')
  t.match(r.out, 'import cycle: @mvm/broker -> @mvm/core -> @mvm/broker\n')
  t.match(r.out, '@mvm/core -> @mvm/broker: import in packages/core/src/late.ts:3')
  t.notMatch(r.out, '@mvm/jobs', 'imports in comments do not count')
  t.match(r.out, 'check-cycles: 2 problems (1 cycle) in 2 packages')
})

t.test('an import declared only in devDependencies is reported', async (t) => {
  const dir = t.testdir(workspace({
    core: {},
    wire: { deps: { devDependencies: { '@mvm/core': '0.1.0' } }, src: { 'index.ts': "import type { x } from '@mvm/core'\nexport type X = typeof x\n" } }
  }))
  const r = await check(dir)
  t.equal(r.code, 1, r.out)
  t.match(r.out, 'packages/wire/src/index.ts:1: @mvm/wire imports @mvm/core, but packages/wire/package.json declares it only in devDependencies')
  t.notMatch(r.out, 'import cycle')
})

t.test('without an argument it checks this repository', async (t) => {
  const n = readdirSync(path.join(root, 'packages')).filter((d) => existsSync(path.join(root, 'packages', d, 'package.json'))).length
  const r = await new Promise<{ code: number, out: string }>((resolve) => {
    execFile(process.execPath, [script], { cwd: '/', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, out: stdout + stderr })
    })
  })
  // whether the real tree passes is for `npm run lint` to say; here only that it read this repository
  t.match(r.out, r.code === 0 ? `check-cycles: ${n} packages, ` : `) in ${n} packages`, r.out)
})
