import { open as openFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { BadRequestError, NotFoundError } from '@mvm/core'
import type { InputFile, InputInfo, JobFiles, Transport } from './types.js'

/** Reads of one on-demand range are cut at this size: a huge `read` must not be one huge IPC message. */
const MAX_READ = 16 * 1024 * 1024
const STREAM_CHUNK = 1024 * 1024

function checkRange (f: InputInfo, offset: number, length: number): number {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new BadRequestError(`read(${offset}, ${length}) of ${f.name}: offset must be a non-negative integer`)
  if (!Number.isSafeInteger(length) || length < 0) throw new BadRequestError(`read(${offset}, ${length}) of ${f.name}: length must be a non-negative integer`)
  return Math.max(0, Math.min(length, f.size - offset, MAX_READ))
}

/**
 * `ctx.files`: the job's inputs. A prefetched input is a read-only file in the work dir (read
 * with the file system); an on-demand one is not there, and each read fetches only the chunks
 * it covers through the node.
 */
export function createFiles (inputs: readonly InputInfo[], transport: Transport, signal: AbortSignal, workDir: () => string): JobFiles {
  const byName = new Map(inputs.map((f) => [f.name, f]))
  const info = (name: string): InputInfo => {
    const f = byName.get(name)
    if (f === undefined) throw new NotFoundError(`no input "${name}"; the job's inputs: ${[...byName.keys()].join(', ') || 'none'}`)
    return f
  }
  const reader = (f: InputInfo): ((offset: number, length: number) => Promise<Uint8Array>) => {
    if (f.mode === 'onDemand') {
      return async (offset, length) => {
        const n = checkRange(f, offset, length)
        if (n === 0) return new Uint8Array(0)
        if (transport.readInput === undefined) throw new BadRequestError(`input ${f.name} is on demand, and this context cannot fetch it`)
        return await transport.readInput(f.name, offset, n, signal)
      }
    }
    return async (offset, length) => {
      const n = checkRange(f, offset, length)
      if (n === 0) return new Uint8Array(0)
      const fh = await openFile(join(workDir(), f.name), 'r')
      try {
        const buf = new Uint8Array(n)
        let got = 0
        while (got < n) {
          const { bytesRead } = await fh.read(buf, got, n - got, offset + got)
          if (bytesRead === 0) break
          got += bytesRead
        }
        return got === n ? buf : buf.subarray(0, got)
      } finally { await fh.close() }
    }
  }
  return {
    list: () => inputs.map((f) => ({ ...f })),
    path (name) {
      const f = info(name)
      if (f.mode === 'onDemand') throw new BadRequestError(`input ${name} is on demand: it has no local file; use ctx.files.open("${name}")`)
      const dir = workDir()
      return isAbsolute(dir) ? join(dir, f.name) : f.name
    },
    async open (name): Promise<InputFile> {
      const f = info(name)
      const read = reader(f)
      return {
        name: f.name,
        size: f.size,
        mode: f.mode,
        read,
        async * stream (opts = {}) {
          const step = Math.max(1, Math.min(opts.chunkSize ?? STREAM_CHUNK, MAX_READ))
          for (let at = opts.start ?? 0; at < f.size; at += step) {
            signal.throwIfAborted()
            const b = await read(at, step)
            if (b.byteLength === 0) return
            yield b
          }
        },
        async text () {
          const parts: Uint8Array[] = []
          for (let at = 0; at < f.size; at += MAX_READ) parts.push(await read(at, MAX_READ))
          return Buffer.concat(parts).toString('utf8')
        }
      }
    }
  }
}
