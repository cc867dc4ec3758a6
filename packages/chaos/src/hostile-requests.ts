import { request } from 'node:http'
import { toMvmError } from '@mvm/core'
import type { BrokerClient } from '@mvm/soap'

/** What a hostile request got: `rejected` is the only acceptable answer. */
export interface RequestOutcome { rejected: boolean, note: string }

export const REQUEST_KINDS = ['soap-nested-yaml', 'soap-huge-body', 'soap-garbage-xml', 'soap-unknown-op'] as const
export type RequestKind = typeof REQUEST_KINDS[number]

const SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
const HUGE_BYTES = 64 * 1024 * 1024

/** Sends one hostile request to the broker; never throws (a failure to answer is the finding). */
export async function sendHostileRequest (kind: RequestKind, broker: BrokerClient, signal: AbortSignal): Promise<RequestOutcome> {
  const t0 = Date.now()
  const took = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`
  switch (kind) {
    case 'soap-nested-yaml': {
      // ~200 KB of flow nesting, the document of issue 17 that froze the super-peer
      const depth = 100_000
      const profileYaml = `apiVersion: mvm/v1\nkind: JobProfile\nmetadata: { name: nested }\nspec:\n  params: ${'['.repeat(depth)}${']'.repeat(depth)}\n`
      try {
        const res = await broker.SubmitJob({ profileYaml, params: [], bundle: [], owner: 'chaos-hostile' }, { timeoutMs: 90_000, signal })
        return { rejected: false, note: `accepted as job ${res.jobId} after ${took()}` }
      } catch (err) {
        const e = toMvmError(err)
        const answered = e.code !== 'E_UNAVAILABLE' && e.code !== 'E_TIMEOUT' && e.code !== 'E_ABORTED'
        return { rejected: answered, note: `${e.code} after ${took()}: ${e.message.slice(0, 100)}` }
      }
    }
    case 'soap-huge-body': {
      const envelope = `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="${SOAP_ENV}"><soapenv:Body><tns:ListNodes xmlns:tns="urn:mvm:broker:v1"><tns:group>`
      return await rawPost(broker.url, 'ListNodes', { head: envelope, padBytes: HUGE_BYTES }, signal, took)
    }
    case 'soap-garbage-xml':
      return await rawPost(broker.url, 'SubmitJob', { head: `<soapenv:Envelope xmlns:soapenv="${SOAP_ENV}"><soapenv:Body><SubmitJob><<&&\u0001</soapenv:Envelope` }, signal, took)
    case 'soap-unknown-op':
      return await rawPost(broker.url, 'DropAllJobs', { head: `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="${SOAP_ENV}"><soapenv:Body><tns:DropAllJobs xmlns:tns="urn:mvm:broker:v1"/></soapenv:Body></soapenv:Envelope>` }, signal, took)
  }
}

/**
 * A POST written by hand (no SOAP client would send these). Any HTTP answer of 400 or more
 * is a rejection; a 2xx, a reset or silence is not. The body is written in chunks, and the
 * answer may come before the body is done: that is how a 413 should arrive.
 */
async function rawPost (url: string, op: string, body: { head: string, padBytes?: number }, signal: AbortSignal, took: () => string): Promise<RequestOutcome> {
  const head = Buffer.from(body.head)
  const total = head.length + (body.padBytes ?? 0)
  return await new Promise<RequestOutcome>((resolve) => {
    let settled = false
    let status: number | undefined
    const done = (o: RequestOutcome): void => { if (!settled) { settled = true; clearTimeout(timer); resolve(o) } }
    const req = request(url, {
      method: 'POST',
      signal,
      headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: `"urn:mvm:broker:v1#${op}"`, 'Content-Length': String(total) }
    }, (res) => {
      status = res.statusCode ?? 0
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => { if (text.length < 2000) text += d })
      res.on('end', () => {
        const fault = /<faultstring>([^<]{0,100})/.exec(text)?.[1] ?? text.slice(0, 80)
        done({ rejected: status! >= 400, note: `HTTP ${String(status)} after ${took()}: ${fault.replace(/\s+/g, ' ')}` })
      })
      res.on('error', (err) => { done({ rejected: false, note: `reply cut after ${took()}: ${err.message}` }) })
    })
    const timer = setTimeout(() => { req.destroy(); done({ rejected: false, note: `no answer within 60 s` }) }, 60_000)
    req.on('error', (err) => {
      // the server may answer 413 and close while the body is still being written: that answer counts
      if (status !== undefined) { done({ rejected: status >= 400, note: `HTTP ${status} after ${took()}, then the connection closed` }); return }
      done({ rejected: false, note: `no HTTP answer, ${(err as NodeJS.ErrnoException).code ?? err.message} after ${took()}` })
    })
    req.write(head)
    const pad = Buffer.alloc(1024 * 1024, 0x61)
    let left = body.padBytes ?? 0
    const pump = (): void => {
      while (left > 0 && !settled && !req.destroyed) {
        const n = Math.min(left, pad.length)
        left -= n
        if (!req.write(n === pad.length ? pad : pad.subarray(0, n))) { req.once('drain', pump); return }
      }
      if (left === 0) req.end()
    }
    pump()
  })
}
