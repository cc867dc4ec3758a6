import { readFile } from 'node:fs/promises'
import path from 'node:path'

/** A file as the user sees it (for messages) and as the process opens it. */
export interface FileRef { file: string, abs: string }

export function rootRef (file: string): FileRef {
  return { file, abs: path.resolve(file) }
}

/** A path written inside `from`, resolved against that file's folder. */
export function relativeRef (from: FileRef, target: string): FileRef {
  const file = path.isAbsolute(target) ? target : path.normalize(path.join(path.dirname(from.file), target))
  return { file, abs: path.resolve(path.dirname(from.abs), target) }
}

export async function readText (ref: FileRef, signal?: AbortSignal): Promise<string | NodeJS.ErrnoException> {
  try {
    return await readFile(ref.abs, signal === undefined ? { encoding: 'utf8' } : { encoding: 'utf8', signal })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    return err as NodeJS.ErrnoException
  }
}

export function describeReadError (ref: FileRef, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `file not found: ${ref.file}`
  if (err.code === 'EISDIR') return `expected a file, ${ref.file} is a directory`
  return `cannot read ${ref.file}: ${err.message}`
}

/** "a.yaml → b.yaml → a.yaml": the chain a circular reference took. */
export function cycleText (stack: readonly FileRef[], again: FileRef): string {
  const start = stack.findIndex((r) => r.abs === again.abs)
  return [...stack.slice(start), again].map((r) => path.basename(r.file)).join(' → ')
}
