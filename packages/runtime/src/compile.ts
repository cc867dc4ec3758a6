import { createHash } from 'node:crypto'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'
import { BadRequestError, SandboxError, ValidationError } from '@mvm/core'
import type { CompileReply } from './compile-worker.js'

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
  /** The compiled text, when the caller already holds it (saves reading `codePath`). */
  code?: string
  /** Whether the cache already held it (no compiler run). */
  cached: boolean
  hash: string
}

const SDK_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])@mvm\/job\2/g

/**
 * TypeScript/JavaScript → one ESM file. TypeScript: only syntax is checked (transpileModule):
 * programs arrive as source from the network and are compiled on each node; type errors are
 * the author's business, syntax errors are reported with file, line and column. JavaScript
 * never starts the compiler (its thread and ~100 MB): only the SDK import is rewritten, and a
 * syntax error surfaces when the rank loads the program (a failed rank with V8's message).
 */
export async function compileProgram (program: ProgramSource, options: CompileOptions): Promise<Compiled> {
  if (typeof program?.source !== 'string') throw new BadRequestError('program.source must be a string')
  if (program.language !== 'ts' && program.language !== 'js') throw new BadRequestError(`program.language: "${String(program.language)}" must be "ts" or "js"`)
  const js = program.language === 'js'
  const hash = createHash('sha256').update(`${js ? 'js' : `${tsVersion()}+map`}\0${program.language}\0${options.sdkUrl}\0`).update(program.source).digest('hex')
  const codePath = join(options.cacheDir, `${hash}.mjs`)
  try {
    await readFile(codePath, { flag: 'r' })
    return { codePath, cached: true, hash }
  } catch { /* not cached yet */ }
  const fileName = program.path ?? (program.language === 'ts' ? 'program.ts' : 'program.js')
  const name = program.language === 'ts' && !/\.[cm]?tsx?$/.test(fileName) ? `${fileName}.ts` : fileName
  const out = js ? { id: 0, outputText: program.source } : await transpile(program.source, name)
  if (out.issues !== undefined && out.issues.length > 0) {
    throw new ValidationError(out.issues.map((i) => ({ file: fileName, line: i.line, column: i.column, path: '', message: i.message })))
  }
  const code = (out.outputText ?? '').replace(SDK_IMPORT, (_m, lead: string, q: string) => `${lead}${q}${options.sdkUrl}${q}`)
  await mkdir(options.cacheDir, { recursive: true })
  // write-then-rename: a concurrent compile of the same program never sees half a file
  const tmp = `${codePath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
  await writeFile(tmp, code)
  await rename(tmp, codePath)
  return { codePath, cached: false, hash }
}

let version: string | undefined
function tsVersion (): string {
  version ??= (createRequire(import.meta.url)('typescript/package.json') as { version: string }).version
  return version
}

/** One compiler thread per process, started on the first compile and not keeping the process alive. */
let worker: Worker | undefined
let idle: NodeJS.Timeout | undefined
let nextId = 0
const COMPILER_IDLE_MS = 60_000
const waiting = new Map<number, (r: CompileReply) => void>()

async function transpile (source: string, fileName: string): Promise<CompileReply> {
  if (worker === undefined) {
    // run from source (tests under tsx) there is no sibling .js and a worker gets no TS loader:
    // take the built one, which `npm test` builds first
    const w = new Worker(new URL(import.meta.url.endsWith('.ts') ? '../dist/compile-worker.js' : './compile-worker.js', import.meta.url))
    w.on('message', (r: CompileReply) => {
      const cb = waiting.get(r.id); waiting.delete(r.id); cb?.(r)
      // an idle compiler thread must not keep the node (or a test) alive, nor hold the
      // compiler's ~100 MB for weeks on a node that runs a job now and then
      if (waiting.size === 0) {
        w.unref()
        clearTimeout(idle)
        idle = setTimeout(() => { if (waiting.size === 0 && worker === w) { worker = undefined; void w.terminate() } }, COMPILER_IDLE_MS)
        idle.unref()
      }
    })
    const fail = (err: Error): void => {
      if (worker === w) worker = undefined
      for (const [id, cb] of waiting) { waiting.delete(id); cb({ id, error: `compiler thread failed: ${err.message}` }) }
    }
    w.on('error', fail)
    w.on('exit', (code) => { if (worker === w) fail(new Error(`exited with code ${code}`)) })
    worker = w
  }
  const id = ++nextId
  worker.ref()
  const reply = await new Promise<CompileReply>((resolve) => { waiting.set(id, resolve); worker!.postMessage({ id, source, fileName }) })
  if (reply.error !== undefined) throw new SandboxError(`cannot compile ${fileName}: ${reply.error}`)
  return reply
}
