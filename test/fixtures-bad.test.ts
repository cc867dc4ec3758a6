// Runs the real loader on every file of the bad-file corpus and checks that the expected issue
// (file, line, message) is among those reported: a file that loads, or fails elsewhere, fails here.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { ValidationError } from '@mvm/core'
import { loadFile } from '@mvm/model'

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'bad')
interface Expectation { line: number, message: string, file?: string, params?: Record<string, string> }
const expected = parse(readFileSync(path.join(dir, 'expected.yaml'), 'utf8')) as Record<string, Expectation>
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') && f !== 'expected.yaml').sort()

t.test('the corpus is large enough and every file has an expectation', async (t) => {
  t.ok(files.length >= 30, `${files.length} bad files`)
  t.same(files.filter((f) => expected[f] === undefined), [], 'files without an expectation')
  t.same(Object.keys(expected).filter((f) => !files.includes(f)), [], 'expectations without a file')
})

for (const file of files) {
  const exp = expected[file]
  if (exp === undefined) continue
  t.test(file, async (t) => {
    const err = await loadFile(path.join(dir, file), { params: exp.params ?? {} }).then(() => undefined, (e: unknown) => e)
    t.type(err, ValidationError, 'rejected with a ValidationError')
    if (!(err instanceof ValidationError)) return
    const wantFile = exp.file ?? file
    const hit = err.issues.find((i) => path.basename(i.file) === wantFile && i.line === exp.line && i.message.includes(exp.message))
    t.ok(hit, `${wantFile}:${exp.line}: …${exp.message}…`, { found: err.issues })
    t.ok(err.issues.every((i) => i.line >= 1 && i.column >= 1 && i.message.length > 0), 'every issue has a position and a message')
  })
}
