import { mkdirSync, rmSync, unlinkSync } from 'node:fs'
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises'
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

  async write (hash: string, bytes: Uint8Array): Promise<void> {
    const sub = hash.slice(0, 2)
    if (!this.made.has(sub)) { await mkdir(join(this.chunksDir, sub), { recursive: true }); this.made.add(sub) }
    const tmp = join(this.tmpDir, `${hash}.${randomBytes(6).toString('hex')}`)
    try {
      await writeFile(tmp, bytes)
      await rename(tmp, this.pathOf(hash))
    } catch (err) {
      await unlink(tmp).catch(() => {})
      throw err
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
