/** Plain-object helpers for policy settings: maps merge key by key, lists and scalars replace. */
export function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function deepMerge<T extends Record<string, unknown>> (base: T, over: Record<string, unknown>): T {
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue
    const cur = out[k]
    out[k] = isPlainObject(cur) && isPlainObject(v) ? deepMerge(cur, v) : v
  }
  return out as T
}

/** Dotted paths of every leaf (scalar, list or empty map) under `value`. */
export function leafPaths (value: unknown, prefix: string[] = []): string[][] {
  if (!isPlainObject(value) || (Object.keys(value).length === 0 && prefix.length > 0)) return prefix.length === 0 ? [] : [prefix]
  return Object.entries(value).flatMap(([k, v]) => v === undefined ? [] : leafPaths(v, [...prefix, k]))
}

export function getPath (value: unknown, path: readonly string[]): unknown {
  let cur = value
  for (const seg of path) {
    if (!isPlainObject(cur)) return undefined
    cur = cur[seg]
  }
  return cur
}

export function setPath (target: Record<string, unknown>, path: readonly string[], v: unknown): void {
  let cur = target
  path.forEach((seg, i) => {
    if (i === path.length - 1) { cur[seg] = v; return }
    if (!isPlainObject(cur[seg])) cur[seg] = {}
    cur = cur[seg] as Record<string, unknown>
  })
}

/** True when `path` is `prefix` or lies under it (`security.roles` under `security`). */
export function within (path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(prefix + '.')
}
