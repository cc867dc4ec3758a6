import t from 'tap'

// The package's runtime entry (entry.ts) re-exports index.ts's values by name: one missing
// there would be undefined for users while the types (index.d.ts) still promise it.
t.test('@mvm/node exports every value index.ts exports', async (t) => {
  const pkg = await import('@mvm/node') as Record<string, unknown>
  const index = await import('../src/index.js') as Record<string, unknown>
  const values = (m: Record<string, unknown>): string[] => Object.keys(m).filter((k) => m[k] !== undefined).sort()
  t.same(values(pkg), values(index))
  t.equal(typeof pkg.createMvmHost, 'function')
})
