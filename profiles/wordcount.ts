// Count the words of a 3 MiB text input on 4 ranks: each rank reads only its own byte range
// of the input (ctx.files), counts the words that start in it, and rank 0 merges the counts,
// writes them to counts.json (the job's output file) and returns the most frequent words.
import { writeFile } from 'node:fs/promises'
import { job } from '@mvm/job'

/** Bytes past a slice's end read to finish its last word; longer words are cut (none here). */
const TAIL = 256
const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x09 || b === 0x0d

export default job(async (ctx) => {
  const f = await ctx.files.open(String(ctx.params.input))
  const per = Math.ceil(f.size / ctx.size)
  const start = Math.min(f.size, ctx.rank * per)
  const end = Math.min(f.size, start + per)
  // one byte before the slice says whether its first word started in the previous slice
  const from = Math.max(0, start - 1)
  const bytes = await f.read(from, end - from + TAIL)
  const counts: Record<string, number> = {}
  let i = start - from
  if (start > 0 && !isSpace(bytes[0]!)) while (i < bytes.length && !isSpace(bytes[i]!)) i++
  const text = new TextDecoder()
  while (i < end - from) {
    while (i < end - from && isSpace(bytes[i]!)) i++
    if (i >= end - from) break
    const w0 = i
    while (i < bytes.length && !isSpace(bytes[i]!)) i++
    const w = text.decode(bytes.subarray(w0, i))
    counts[w] = (counts[w] ?? 0) + 1
  }
  const all = await ctx.gather(counts)
  if (all === undefined) return undefined
  const merged: Record<string, number> = {}
  for (const c of all) for (const [w, n] of Object.entries(c)) merged[w] = (merged[w] ?? 0) + n
  const sorted = Object.entries(merged).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
  await writeFile('counts.json', JSON.stringify(Object.fromEntries(sorted), null, 1) + '\n')
  return { words: sorted.reduce((s, [, n]) => s + n, 0), distinct: sorted.length, top: sorted.slice(0, 3) }
})
