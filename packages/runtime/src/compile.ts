import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import ts from 'typescript'
import { BadRequestError, ValidationError, type Issue } from '@mvm/core'

export interface ProgramSource {
  source: string
  language: 'ts' | 'js'
  /** Shown in errors (`profiles/primes.ts:3:7: ...`); a default name otherwise. */
  path?: string
}

export interface CompileOptions {
  /** Where compiled programs are cached, keyed by content. */
  cacheDir: string
  /** What `'@mvm/job'` becomes in the output: the SDK's absolute file URL. */
  sdkUrl: string
}

export interface Compiled {
  codePath: string
  /** Whether the cache already held it (no compiler run). */
  cached: boolean
  hash: string
}

const SDK_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])@mvm\/job\2/g

/**
 * TypeScript/JavaScript → one ESM file. Only syntax is checked (transpileModule): programs
 * arrive as source from the network and are compiled on each node; type errors are the
 * author's business, syntax errors are reported with file, line and column.
 */
export async function compileProgram (program: ProgramSource, options: CompileOptions): Promise<Compiled> {
  if (typeof program?.source !== 'string') throw new BadRequestError('program.source must be a string')
  if (program.language !== 'ts' && program.language !== 'js') throw new BadRequestError(`program.language: "${String(program.language)}" must be "ts" or "js"`)
  const hash = createHash('sha256').update(`${ts.version}\0${program.language}\0${options.sdkUrl}\0`).update(program.source).digest('hex')
  const codePath = join(options.cacheDir, `${hash}.mjs`)
  try {
    await readFile(codePath, { flag: 'r' })
    return { codePath, cached: true, hash }
  } catch { /* not cached yet */ }
  const fileName = program.path ?? (program.language === 'ts' ? 'program.ts' : 'program.js')
  const out = ts.transpileModule(program.source, {
    fileName: program.language === 'ts' && !/\.[cm]?tsx?$/.test(fileName) ? `${fileName}.ts` : fileName,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, inlineSourceMap: false, allowJs: true }
  })
  const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error)
  if (errors.length > 0) throw new ValidationError(errors.map((d) => toIssue(d, fileName)))
  const code = out.outputText.replace(SDK_IMPORT, (_m, lead: string, q: string) => `${lead}${q}${options.sdkUrl}${q}`)
  await mkdir(options.cacheDir, { recursive: true })
  // write-then-rename: a concurrent compile of the same program never sees half a file
  const tmp = `${codePath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await writeFile(tmp, code)
  await rename(tmp, codePath)
  return { codePath, cached: false, hash }
}

function toIssue (d: ts.Diagnostic, fileName: string): Issue {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
  if (d.file === undefined || d.start === undefined) return { file: fileName, line: 0, column: 0, path: '', message }
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
  return { file: fileName, line: line + 1, column: character + 1, path: '', message }
}
