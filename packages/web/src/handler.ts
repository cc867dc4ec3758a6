import type { IncomingMessage, ServerResponse } from 'node:http'
import { toMvmError, type Logger } from '@mvm/core'
import { APP_JS, PAGE_HTML } from './assets.js'
import { followLogs, type EventSink } from './log-stream.js'
import type { WebSource } from './source.js'

export interface WebViewInit {
  source: WebSource
  log: Logger
  /** Where the view is mounted (default `/ui`). */
  prefix?: string
  /** How often each open stream gets a fresh snapshot, and a log stream reads on (default 1000 ms). */
  intervalMs?: number
  /** Most open event streams at once; more get 503 (default 64). */
  maxStreams?: number
}

export interface WebView {
  handle: (req: IncomingMessage, res: ServerResponse, url?: URL) => Promise<void>
  close: () => void
}

/**
 * The live web view: one page and its script, and Server-Sent Event streams: the group and one
 * job push a snapshot every interval, a job's logs push new lines as the ranks write them, so
 * the page never polls or reloads.
 */
export function createWebView (init: WebViewInit): WebView {
  const prefix = (init.prefix ?? '/ui').replace(/\/+$/, '')
  const every = init.intervalMs ?? 1000
  const maxStreams = init.maxStreams ?? 64
  const streams = new Set<ServerResponse>()
  const src = init.source

  const overview = (): unknown => ({ nodes: src.nodes(), jobs: src.jobs(), policy: src.policy() })
  // rates come from the change between two snapshots of this stream, so each stream keeps its last one
  const jobView = (jobId: string, last: Map<string, { items: number, bytes: number, at: number }>): unknown => {
    const now = Date.now()
    const traffic = src.traffic(jobId).map((p) => {
      const key = `${p.rank}:${p.port}`
      const prev = last.get(key)
      last.set(key, { items: p.items, bytes: p.bytes, at: now })
      const dt = prev === undefined ? 0 : (now - prev.at) / 1000
      return { ...p, itemsPerSec: dt > 0 ? (p.items - prev!.items) / dt : 0, bytesPerSec: dt > 0 ? (p.bytes - prev!.bytes) / dt : 0 }
    })
    return { job: src.job(jobId), traffic }
  }

  /** Opens an event stream, or answers 503 and gives undefined when too many are open. */
  const open = (req: IncomingMessage, res: ServerResponse): EventSink | undefined => {
    if (streams.size >= maxStreams) { text(res, 503, `too many open event streams (${maxStreams})\n`); return undefined }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Content-Type-Options': 'nosniff' })
    streams.add(res)
    const ac = new AbortController()
    const end = (): void => { streams.delete(res); ac.abort() }
    req.on('close', end)
    res.on('close', end)
    return {
      send: (event, data) => { if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`) },
      drained: async () => {
        if (!res.writableNeedDrain || ac.signal.aborted) return
        await new Promise<void>((resolve) => {
          const done = (): void => { res.off('drain', done); ac.signal.removeEventListener('abort', done); resolve() }
          res.once('drain', done)
          ac.signal.addEventListener('abort', done, { once: true })
        })
      },
      signal: ac.signal
    }
  }

  const stream = (req: IncomingMessage, res: ServerResponse, first: (() => string | undefined) | undefined, snapshot: () => unknown): void => {
    const sse = open(req, res)
    if (sse === undefined) return
    const tick = (): void => {
      try { sse.send('snapshot', snapshot()) } catch (err) { sse.send('problem', { message: toMvmError(err).message }) }
    }
    const svg = first?.()
    if (svg !== undefined) sse.send('topology', { svg })
    tick()
    const timer = setInterval(tick, every)
    timer.unref()
    sse.signal.addEventListener('abort', () => { clearInterval(timer) }, { once: true })
  }

  const logs = (req: IncomingMessage, res: ServerResponse, jobId: string): void => {
    const sse = open(req, res)
    if (sse === undefined) return
    // the stream ends itself once the job is finished and drained: the page then stops reconnecting
    followLogs(src, jobId, sse, { intervalMs: every })
      .catch((err: unknown) => { init.log.warn({ err: toMvmError(err).message, jobId }, 'web view log stream failed') })
      .finally(() => { res.end() })
  }

  return {
    async handle (req, res, given) {
      const url = given ?? new URL(req.url ?? '/', 'http://localhost')
      const path = url.pathname.replace(/\/+$/, '')
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD')
        text(res, 405, `${req.method ?? '?'} ${url.pathname}: the web view only answers GET\n`)
        return
      }
      try {
        if (path === prefix || path === `${prefix}/job`) return body(res, 'text/html; charset=utf-8', PAGE_HTML)
        if (path === `${prefix}/app.js`) return body(res, 'text/javascript; charset=utf-8', APP_JS)
        if (path === `${prefix}/events`) return stream(req, res, undefined, overview)
        if (path === `${prefix}/events/job`) {
          const id = url.searchParams.get('id') ?? ''
          if (id === '') return text(res, 400, `${url.pathname}: the query parameter "id" (a job id) is required\n`)
          src.job(id) // an unknown job is a 404 now, not an error inside the stream
          const last = new Map<string, { items: number, bytes: number, at: number }>()
          return stream(req, res, () => src.topologySvg(id), () => jobView(id, last))
        }
        if (path === `${prefix}/events/logs`) {
          const id = url.searchParams.get('id') ?? ''
          if (id === '') return text(res, 400, `${url.pathname}: the query parameter "id" (a job id) is required\n`)
          return logs(req, res, src.job(id).jobId)
        }
        text(res, 404, `no page at ${url.pathname} (the web view is at ${prefix})\n`)
      } catch (err) {
        const e = toMvmError(err)
        if (!res.headersSent) text(res, e.code === 'E_NOT_FOUND' ? 404 : 500, `${e.code}: ${e.message}\n`)
        else init.log.warn({ err: e.message }, 'web view request failed')
      }
    },
    close () {
      for (const r of streams) r.end()
      streams.clear()
    }
  }
}

function body (res: ServerResponse, type: string, content: string): void {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(content), 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' })
  res.end(content)
}

function text (res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(message) })
  res.end(message)
}
