import { mkdirSync, rmSync, unlinkSync } from 'node:fs'
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'

/**
 * The chunk files on disk: `<dir>/chunks/<first 2 hex>/<hash>`. A chunk is written to
 * `<dir>/tmp/` first and renamed into place, so a crash never leaves half a chunk under
 * its name (a stray temp file is removed at the next open).
 */
export class ChunkDir {
  readonly chunksDir: string
  private readonly tmpDir: string
  private readonly made = new Set<string>()

  constructor (dir: string) {
    this.chunksDir = join(dir, 'chunks')
    this.tmpDir = join(dir, 'tmp')
    mkdirSync(this.chunksDir, { recursive: true })
    rmSync(this.tmpDir, { recursive: true, force: true })
    mkdirSync(this.tmpDir, { recursive: true })
  }

  pathOf (hash: string): string { return join(this.chunksDir, hash.slice(0, 2), hash) }

  /**
   * Writes the chunk; returns the identity of the file now under its name (see `identity`),
   * taken after the rename, which itself changes the file's ctime.
   */
  async write (hash: string, bytes: Uint8Array | readonly Uint8Array[]): Promise<string> {
    const sub = hash.slice(0, 2)
    if (!this.made.has(sub)) { await mkdir(join(this.chunksDir, sub), { recursive: true }); this.made.add(sub) }
    const tmp = join(this.tmpDir, `${hash}.${randomBytes(6).toString('hex')}`)
    try {
      await writeParts(tmp, bytes instanceof Uint8Array ? [bytes] : bytes)
      await rename(tmp, this.pathOf(hash))
    } catch (err) {
      await unlink(tmp).catch(() => {})
      throw err
    }
    return identity(await stat(this.pathOf(hash)))
  }

  /**
   * The file's bytes and identity (one open, one fstat, one read), or undefined when it is not
   * there; read into `into` when it is large enough.
   */
  async readWithIdentity (hash: string, into?: Uint8Array): Promise<{ bytes: Uint8Array, identity: string } | undefined> {
    let fh
    try {
      fh = await open(this.pathOf(hash), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    try {
      const st = await fh.stat()
      const bytes = into !== undefined && into.byteLength >= st.size ? into : Buffer.allocUnsafe(st.size)
      let at = 0
      while (at < st.size) {
        const { bytesRead } = await fh.read(bytes, at, st.size - at, at)
        if (bytesRead === 0) break
        at += bytesRead
      }
      return { bytes: bytes.subarray(0, at), identity: identity(st) }
    } finally {
      await fh.close()
    }
  }

  /** The file's bytes, or undefined when it is not there. */
  async read (hash: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.pathOf(hash))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
  }

  /**
   * Synchronous on purpose: an eviction's index change and its unlinks happen in one turn,
   * so a put of the same chunk that starts afterwards cannot have its new file removed.
   */
  removeSync (hash: string): void {
    try { unlinkSync(this.pathOf(hash)) } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

/** One writev for the parts as received (a short write, rare on a local disk, goes on with write). */
async function writeParts (path: string, parts: readonly Uint8Array[]): Promise<void> {
  const fh = await open(path, 'w')
  try {
    const total = parts.reduce((n, p) => n + p.byteLength, 0)
    const { bytesWritten } = await fh.writev(parts as Uint8Array[])
    if (bytesWritten < total) {
      const rest = Buffer.concat(parts as Uint8Array[]).subarray(bytesWritten)
      for (let at = 0; at < rest.byteLength;) at += (await fh.write(rest, at, rest.byteLength - at)).bytesWritten
    }
  } finally {
    await fh.close()
  }
}

/**
 * What changes whenever a file's bytes are written through the file system: its inode, size,
 * mtime and ctime (ctime cannot be set back by a user, so an overwrite that restores the mtime
 * still shows).
 */
function identity (st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`
}
