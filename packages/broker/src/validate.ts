import { BadRequestError } from '@mvm/core'
import type { JobRequest, NodeView } from './types.js'
import type { NewJob } from './store.js'

const MAX_SIZE = 100_000
const MAX_CHILDREN = 100_000

function fail (field: string, reason: string, got: unknown): never {
  throw new BadRequestError(`${field}: ${reason} (got ${JSON.stringify(got) ?? String(got)})`, { data: { field, reason } })
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function checkOne (r: unknown, at: string, child: boolean): void {
  if (!isRecord(r)) fail(at, 'must be an object', r)
  if (!Number.isInteger(r.size) || (r.size as number) < 1 || (r.size as number) > MAX_SIZE) fail(`${at}.size`, `must be an integer from 1 to ${MAX_SIZE}`, r.size)
  if (r.priority !== undefined && !Number.isSafeInteger(r.priority)) fail(`${at}.priority`, 'must be an integer', r.priority)
  for (const k of ['name', 'owner'] as const) {
    if (r[k] !== undefined && (typeof r[k] !== 'string' || r[k] === '')) fail(`${at}.${k}`, 'must be a non-empty string', r[k])
  }
  if (r.resources !== undefined) {
    if (!isRecord(r.resources)) fail(`${at}.resources`, 'must be an object', r.resources)
    for (const k of ['memoryMB', 'cpu'] as const) {
      const v = r.resources[k]
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) fail(`${at}.resources.${k}`, 'must be a number >= 0', v)
    }
  }
  if (r.placement !== undefined) checkPlacement(r.placement, `${at}.placement`)
  if (child && r.children !== undefined) fail(`${at}.children`, 'a child job cannot have children', '[…]')
}

function checkPlacement (p: unknown, at: string): void {
  if (!isRecord(p)) fail(at, 'must be an object', p)
  if (p.group !== undefined && (typeof p.group !== 'string' || p.group === '')) fail(`${at}.group`, 'must be a non-empty string', p.group)
  if (p.strategy !== undefined && p.strategy !== 'spread' && p.strategy !== 'pack') fail(`${at}.strategy`, 'must be "spread" or "pack"', p.strategy)
  if (p.labels !== undefined) {
    if (!isRecord(p.labels)) fail(`${at}.labels`, 'must be a map of strings', p.labels)
    for (const [k, v] of Object.entries(p.labels)) if (typeof v !== 'string') fail(`${at}.labels.${k}`, 'must be a string', v)
  }
  if (p.nodes !== undefined) {
    if (!Array.isArray(p.nodes) || p.nodes.length === 0) fail(`${at}.nodes`, 'must be a non-empty list of peer IDs', p.nodes)
    p.nodes.forEach((n, i) => { if (typeof n !== 'string' || n === '') fail(`${at}.nodes[${i}]`, 'must be a peer ID', n) })
  }
}

/** Checks a submission and turns it into the rows to store: the job, or an array parent and its children. */
export function toNewJobs (request: unknown): { parent: NewJob, children: NewJob[] } {
  if (!isRecord(request)) fail('request', 'must be an object', request)
  const kids = request.children
  if (kids === undefined) {
    checkOne(request, 'request', false)
    const r = request as JobRequest
    return { parent: newJob(r, r), children: [] }
  }
  if (!Array.isArray(kids) || kids.length === 0 || kids.length > MAX_CHILDREN) {
    fail('request.children', `must be a list of 1 to ${MAX_CHILDREN} job requests`, Array.isArray(kids) ? `${kids.length} items` : kids)
  }
  const { children: _omit, ...rest } = request
  const base = rest as Partial<JobRequest>
  // children inherit what they do not say from the parent, so a profile's value sets stay small
  const children = kids.map((k, i) => {
    const merged = { ...base, ...(isRecord(k) ? k : { invalid: k }) }
    if (!isRecord(k)) fail(`request.children[${i}]`, 'must be an object', k)
    checkOne(merged, `request.children[${i}]`, true)
    return newJob(merged as JobRequest, merged as JobRequest)
  })
  const size = children.reduce((n, c) => n + c.size, 0)
  const parentReq = { ...base, size, childCount: children.length } as JobRequest
  if (base.priority !== undefined && !Number.isSafeInteger(base.priority)) fail('request.priority', 'must be an integer', base.priority)
  return { parent: newJob(parentReq, parentReq), children }
}

function newJob (r: JobRequest, stored: JobRequest): NewJob {
  return { request: stored, name: r.name ?? 'job', owner: r.owner ?? null, priority: r.priority ?? 0, size: r.size }
}

/** Checks one monitoring report so a bad heartbeat is rejected with the field named, not stored. */
export function checkNodeView (v: unknown, at: string): NodeView {
  if (!isRecord(v)) fail(at, 'must be an object', v)
  if (typeof v.peerId !== 'string' || v.peerId === '') fail(`${at}.peerId`, 'must be a non-empty string', v.peerId)
  if (typeof v.group !== 'string') fail(`${at}.group`, 'must be a string', v.group)
  if (v.state !== 'up' && v.state !== 'down' && v.state !== 'left') fail(`${at}.state`, 'must be up, down or left', v.state)
  if (v.labels !== undefined && !isRecord(v.labels)) fail(`${at}.labels`, 'must be a map of strings', v.labels)
  for (const k of ['totalSlots', 'freeSlots', 'freeMemoryMB', 'load'] as const) {
    const n = v[k]
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) fail(`${at}.${k}`, 'must be a finite number >= 0', n)
  }
  return { ...(v as unknown as NodeView), labels: (v.labels ?? {}) as Record<string, string> }
}
