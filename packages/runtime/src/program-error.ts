import { readFileSync } from 'node:fs'
import { SourceMap, type SourceMapPayload } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { ErrorCode, MvmError, toMvmError, type SerializedError } from '@mvm/core'

/** Where the rank's program came from: the compiled file it runs, and the name its author knows. */
export interface ProgramFiles {
  /** The compiled .mjs the rank imported. */
  codePath: string
  /** The program's path inside the job's bundle (`primes.ts`), shown instead of `codePath`. */
  programPath: string
  /** The rank's work dir (its cwd): shown as `work/` so no server path reaches a client. */
  workDir: string
}

/**
 * What a rank reports when something was thrown: the program's own exceptions (a plain throw,
 * a rejected promise, a Node error the program caused) become E_PROGRAM with the program's
 * file:line:col, mapped through the compiler's source map; our own typed errors keep their
 * code; a plain error raised only in toolkit frames stays E_INTERNAL (that is our bug).
 */
export function describeThrown (err: unknown, files: ProgramFiles | undefined): SerializedError & { stack?: string } {
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack : undefined
  const location = files === undefined ? undefined : programLocation(stack, files)
  const e = classify(err, location !== undefined)
  const where = location === undefined ? '' : ` (at ${location})`
  const message = scrub(e.message, files) + where
  return { ...e.toJSON(), message, ...(location === undefined ? {} : { data: { ...(isObject(e.data) ? e.data : {}), location } }), ...(stack === undefined ? {} : { stack }) }
}

function classify (err: unknown, inProgram: boolean): MvmError {
  if (err instanceof MvmError) return err
  const x = err as { code?: unknown, permission?: unknown, resource?: unknown, name?: unknown, message?: unknown } | null
  const nodeCode = typeof x?.code === 'string' ? x.code : undefined
  if (nodeCode === 'ERR_ACCESS_DENIED') {
    // the permission model said no: the sandbox at work, with the denied resource named
    const what = [x?.permission, x?.resource].filter((v) => typeof v === 'string' && v !== '').join(' ')
    return new MvmError(ErrorCode.SANDBOX, `${nodeCode}: ${String(x?.message)}${what === '' ? '' : ` (${what})`}`, { cause: err })
  }
  const generic = toMvmError(err)
  if (generic.code !== ErrorCode.INTERNAL) return generic
  // a thrown non-Error, a system error (ENOENT, ...) or anything raised in the program's frames
  // is the program's doing; a plain Error from toolkit code alone is ours
  const ours = err instanceof Error && !inProgram && nodeCode === undefined && hasFrames(err.stack)
  if (ours) return generic
  const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : ''
  const code = nodeCode !== undefined && !generic.message.startsWith(nodeCode) ? `${nodeCode}: ` : ''
  return new MvmError(ErrorCode.PROGRAM, `${name}${code}${generic.message}`, { cause: err })
}

function hasFrames (stack: string | undefined): boolean {
  return stack !== undefined && /\n\s+at /.test(stack)
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The first stack frame in the program, as `primes.ts:12:9` in the author's source. */
export function programLocation (stack: string | undefined, files: ProgramFiles): string | undefined {
  if (stack === undefined) return undefined
  const map = inlineMap(files.codePath)
  // under --enable-source-maps Node has already mapped the frames, to the map's source file;
  // frames name files by URL (ESM) or by path: the path ends both
  const mapped = map?.sourceUrl === undefined ? undefined : fileURLToPath(map.sourceUrl)
  for (const line of stack.split('\n', 64)) {
    for (const [url, needsMap] of [[files.codePath, true], [mapped, false]] as const) {
      if (url === undefined) continue
      const at = line.lastIndexOf(url)
      if (at < 0) continue
      const m = /^:(\d+):(\d+)/.exec(line.slice(at + url.length))
      if (m === null) continue
      const pos = needsMap ? original(map?.map, Number(m[1]), Number(m[2])) : { line: Number(m[1]), column: Number(m[2]) }
      return `${files.programPath}:${pos.line}:${pos.column}`
    }
  }
  return undefined
}

const INLINE_MAP = /\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/

type InlineMap = { map: SourceMap, sourceUrl?: string } | undefined
/**
 * Maps read when a program was loaded. A reused process keeps the loaded module, but the next
 * job's work dir no longer holds its compiled file, so the map must be read while it is there.
 */
const loadedMaps = new Map<string, InlineMap>()

/** Reads the program's source map now, while its compiled file exists (call right after loading it). */
export function rememberProgramMap (codePath: string): void {
  if (!loadedMaps.has(codePath)) loadedMaps.set(codePath, readInlineMap(codePath))
}

function inlineMap (codePath: string): InlineMap {
  return loadedMaps.has(codePath) ? loadedMaps.get(codePath) : readInlineMap(codePath)
}

/** The compiled file's inline source map (JavaScript programs have none), and its source's URL. */
function readInlineMap (codePath: string): InlineMap {
  try {
    const m = INLINE_MAP.exec(readFileSync(codePath, 'utf8'))
    if (m === null) return undefined
    const payload = JSON.parse(Buffer.from(m[1]!, 'base64').toString('utf8')) as SourceMapPayload
    const source = payload.sources?.[0]
    return { map: new SourceMap(payload), ...(source === undefined ? {} : { sourceUrl: new URL(source, pathToFileURL(codePath)).href }) }
  } catch {
    // the file gone (a reused process whose work dir was wiped): the compiled position still helps
    return undefined
  }
}

/** A compiled position mapped back through the source map; without one, as is. */
function original (map: SourceMap | undefined, line: number, column: number): { line: number, column: number } {
  if (map === undefined) return { line, column }
  const e = map.findEntry(line - 1, column - 1) as { originalLine?: number, originalColumn?: number }
  if (typeof e.originalLine !== 'number' || typeof e.originalColumn !== 'number') return { line, column }
  return { line: e.originalLine + 1, column: e.originalColumn + 1 }
}

/** Server paths out of a message: the work dir becomes `work`, the compiled file the program's name. */
function scrub (message: string, files: ProgramFiles | undefined): string {
  if (files === undefined) return message
  let out = message.split(pathToFileURL(files.codePath).href).join(files.programPath).split(files.codePath).join(files.programPath)
  if (files.workDir.length > 1) out = out.split(pathToFileURL(files.workDir).href).join('work').split(files.workDir).join('work')
  return out
}
