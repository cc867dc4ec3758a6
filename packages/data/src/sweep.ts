import { readdir, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChunkDir } from './chunk-dir.js'

/** Deletes chunk files that `known` does not claim; returns what it removed. */
export async function sweepUnindexed (disk: ChunkDir, known: (hash: string) => boolean): Promise<{ chunks: number, bytes: number }> {
  let chunks = 0
  let bytes = 0
  for (const sub of await readdir(disk.chunksDir)) {
    let names: string[]
    try { names = await readdir(join(disk.chunksDir, sub)) } catch { continue }
    for (const name of names) {
      if (known(name)) continue
      const p = join(disk.chunksDir, sub, name)
      try {
        const s = await stat(p)
        if (known(name)) continue // put while we looked
        await unlink(p)
        chunks++
        bytes += s.size
      } catch {}
    }
  }
  return { chunks, bytes }
}
