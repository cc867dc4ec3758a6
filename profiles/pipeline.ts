// A directed pipeline of text stages: rank 0 tokenizes lines, the middle ranks lowercase and
// drop stopwords, the last rank counts words. Items flow one token at a time; `null` ends the
// stream. Input: params.lines, or params.items generated lines.
import { job } from '@mvm/job'

const STOPWORDS = new Set(['a', 'an', 'and', 'the', 'of', 'to', 'in', 'is', 'on', 'for', 'with', 'at', 'by', 'it'])
const WORDS = ['The', 'queue', 'of', 'a', 'Virtual', 'machine', 'is', 'bounded', 'and', 'the', 'Ranks', 'talk', 'on', 'ports']

const stages: Array<(w: string) => string | null> = [
  (w) => w.toLowerCase(),
  (w) => STOPWORDS.has(w.toLowerCase()) ? null : w
]

export default job(async (ctx) => {
  const last = ctx.size - 1
  if (ctx.rank === 0) {
    const lines = (ctx.params.lines as string[] | undefined) ??
      Array.from({ length: Number(ctx.params.items ?? 100) }, (_, i) => Array.from({ length: 5 }, (_, k) => WORDS[(i * 7 + k * 3) % WORDS.length]).join(' '))
    for (const line of lines) {
      for (const token of line.split(/[^\p{L}\p{N}']+/u)) if (token !== '') await ctx.send('next', token)
    }
    await ctx.send('next', null)
    return undefined
  }
  if (ctx.rank < last) {
    const stage = stages[ctx.rank - 1] ?? ((w: string) => w)
    for (;;) {
      const w = await ctx.recv('prev') as string | null
      if (w === null) { await ctx.send('next', null); return undefined }
      const out = stage(w)
      if (out !== null) await ctx.send('next', out)
    }
  }
  const counts: Record<string, number> = {}
  let words = 0
  for (;;) {
    const w = await ctx.recv('prev') as string | null
    if (w === null) break
    counts[w] = (counts[w] ?? 0) + 1
    words++
  }
  return { words, distinct: Object.keys(counts).length, counts }
})
