// How a rank describes what was thrown: the program's exceptions are E_PROGRAM at the program's
// .ts line (a real compile with a real source map, a real import), ours keep their codes.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BadRequestError } from '@mvm/core'
import { compileProgram } from '../src/compile.js'
import { describeThrown } from '../src/program-error.js'

const SOURCE = [
  'interface Point { x: number, y: number }', // 1: gone in the output
  'type Pair = [Point, Point]', //                2: gone too
  'export function boom (p: Pair): number {', //  3
  '  if (p.length === 2) throw new TypeError(`bad pair ${JSON.stringify(p)}`)', // 4
  '  return 0',
  '}',
  'export function ours (): never { throw new BadRequest("--rank: no") }',
  'class BadRequest extends Error {}',
  ''
].join('\n')

t.test('a throw in a ts program: E_PROGRAM, its message, the .ts line; server paths scrubbed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mvm-progerr-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const { codePath } = await compileProgram({ source: SOURCE, language: 'ts', path: 'geo.ts' }, { cacheDir: dir, sdkUrl: 'file:///nowhere.js' })
  const mod = await import(pathToFileURL(codePath).href) as { boom: (p: unknown) => number }
  const files = { codePath, programPath: 'geo.ts', workDir: dir }
  let thrown: unknown
  try { mod.boom([{ x: 1, y: 2 }, { x: 3, y: 4 }]) } catch (err) { thrown = err }
  const e = describeThrown(thrown, files)
  t.equal(e.code, 'E_PROGRAM')
  t.match(e.message, /^TypeError: bad pair \[\{"x":1,"y":2\},\{"x":3,"y":4\}\] \(at geo\.ts:4:\d+\)$/, 'the source line, not the compiled one')
  t.same((e.data as { location?: string }).location?.split(':').slice(0, 2), ['geo.ts', '4'])

  const inWork = describeThrown(Object.assign(new Error(`ENOENT: no such file or directory, open '${join(dir, 'in.txt')}'`), { code: 'ENOENT' }), files)
  t.equal(inWork.code, 'E_PROGRAM', 'a system error the program caused')
  t.equal(inWork.message, "ENOENT: no such file or directory, open 'work/in.txt'", 'its work dir shown as work/')
})

t.test('what is not the program\'s: typed errors keep their code, toolkit-only errors stay E_INTERNAL', async (t) => {
  const files = { codePath: '/x/program-0123456789abcdef.mjs', programPath: 'p.ts', workDir: '/x' }
  t.equal(describeThrown(new BadRequestError('default export must be job(...)'), files).code, 'E_BAD_REQUEST')
  t.equal(describeThrown(new Error('bug in the host'), files).code, 'E_INTERNAL', 'a plain error raised only in our frames')
  t.equal(describeThrown('a string', files).code, 'E_PROGRAM', 'only a program throws a non-Error')
  const denied = describeThrown(Object.assign(new Error('Access to this API has been restricted'), { code: 'ERR_ACCESS_DENIED', permission: 'FileSystemRead', resource: '/etc/passwd' }), files)
  t.equal(denied.code, 'E_SANDBOX')
  t.match(denied.message, /^ERR_ACCESS_DENIED: .* \(FileSystemRead \/etc\/passwd\)$/)
})
