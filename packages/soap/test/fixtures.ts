import { NotFoundError } from '@mvm/core'
import { startSoapServer, type BootstrapHandlers, type BrokerHandlers, type JobInfo, type NodeHandlers, type NodeInfo, type SoapServer, type SubmitJobRequest } from '@mvm/soap'

export const nodeInfo: NodeInfo = {
  peerId: '12D3KooWPeerA',
  group: 'lab',
  roles: ['peer', 'super-peer'],
  state: 'up',
  load: 0.25,
  totalSlots: 8,
  freeSlots: 6,
  freeMemoryMB: 2048,
  processes: 2,
  queueDepth: 1,
  lastSeen: '2024-05-01T10:00:00.000Z',
  labels: { arch: 'x64', gpu: 'none' },
  soapUrl: 'http://127.0.0.1:7070/mvm/Node'
}

export const jobInfo: JobInfo = {
  jobId: 'job-1',
  name: 'ring-sum',
  state: 'running',
  priority: 5,
  size: 2,
  owner: 'alice',
  submittedAt: '2024-05-01T10:00:00.000Z',
  startedAt: '2024-05-01T10:00:01.000Z',
  placement: [{ rank: 0, peerId: '12D3KooWPeerA' }, { rank: 1, peerId: '12D3KooWPeerB' }],
  ranksStarted: 2,
  ranksFinished: 0
}

/** What the in-test services saw, so tests can check what arrived, not just what came back. */
export interface Seen { submitted?: SubmitJobRequest, remoteAddress?: string, registered?: unknown, resources?: unknown }

export function handlers (seen: Seen): { Bootstrap: BootstrapHandlers, Node: NodeHandlers, Broker: BrokerHandlers } {
  return {
    Bootstrap: {
      GetBrokers: async (req) => ({
        brokers: [{ group: req.group ?? 'lab', peerId: '12D3KooWPeerA', multiaddrs: ['/ip4/127.0.0.1/tcp/4001'], soapUrl: 'http://127.0.0.1:7070', registeredAt: '2024-05-01T09:00:00.000Z' }]
      }),
      RegisterSuperPeer: async (req) => { seen.registered = req; return { accepted: true, leaseSec: 30 } },
      GetResources: async (req) => { seen.resources = req; return { nodes: [nodeInfo] } }
    },
    Node: {
      GetStatus: async (_req, ctx) => {
        seen.remoteAddress = ctx.remoteAddress
        return {
          peerId: '12D3KooWPeerA', roles: ['peer'], group: 'lab', state: 'up', load: 1.5, totalSlots: 4, freeSlots: 3,
          totalMemoryMB: 8192, freeMemoryMB: 4096, processes: 1, uptimeSec: 12.5, soapUrl: 'http://127.0.0.1:7070/mvm/Node',
          multiaddrs: ['/ip4/127.0.0.1/tcp/4001'], labels: { zone: 'a' }
        }
      },
      Awaken: async (req) => { if (req.jobId === 'missing') throw new NotFoundError(`no job ${req.jobId}`); return { ok: true } },
      Terminate: async () => ({ ok: true, stopped: 3 }),
      ListProcesses: async () => ({ processes: [{ jobId: 'job-1', rank: 0, pid: 4242, state: 'running', startedAt: '2024-05-01T10:00:01.000Z' }] })
    },
    Broker: {
      ListNodes: async () => ({ nodes: [nodeInfo, { ...nodeInfo, peerId: '12D3KooWPeerB', labels: {}, roles: [], soapUrl: undefined }] }),
      GetNode: async (req) => {
        if (req.peerId !== nodeInfo.peerId) throw new NotFoundError(`no node ${req.peerId}`, { data: { peerId: req.peerId } })
        return nodeInfo
      },
      SubmitJob: async (req) => { seen.submitted = req; return { jobId: 'job-1', childJobIds: [] } },
      GetJob: async (req) => {
        if (req.jobId !== 'job-1') throw new NotFoundError(`no job ${req.jobId}`)
        return jobInfo
      },
      ListJobs: async (req) => ({ jobs: req.state === 'failed' ? [] : [jobInfo] }),
      CancelJob: async () => ({ ...jobInfo, state: 'cancelled', reason: 'cancelled by alice', finishedAt: '2024-05-01T10:01:00.000Z' }),
      GetJobResult: async (req) => ({
        jobId: req.jobId,
        state: 'succeeded',
        resultJson: '{"sum":3}',
        ranks: [
          { rank: 0, peerId: '12D3KooWPeerA', exitCode: 0, resultJson: '3', startedAt: '2024-05-01T10:00:01.000Z', finishedAt: '2024-05-01T10:00:02.000Z' },
          { rank: 1, peerId: '12D3KooWPeerB', exitCode: 0, startedAt: '2024-05-01T10:00:01.000Z', finishedAt: '2024-05-01T10:00:02.000Z' }
        ]
      }),
      ApplyPolicy: async (req) => ({ applied: (req.policyYaml ?? '').includes('apiVersion'), warnings: ['unknown key spec.x', 'second'] })
      // GetPolicy deliberately has no handler: it must answer E_UNAVAILABLE
    }
  }
}

export async function startAll (seen: Seen = {}, maxRequestBytes?: number): Promise<SoapServer> {
  const init: Parameters<typeof startSoapServer>[0] = { services: handlers(seen) }
  if (maxRequestBytes !== undefined) init.maxRequestBytes = maxRequestBytes
  return await startSoapServer(init)
}

/** POSTs a raw SOAP 1.1 envelope the way a Java/.NET/Python client does. */
export async function postEnvelope (url: string, body: string | Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number, text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/xml; charset=utf-8', ...headers }, body, signal: AbortSignal.timeout(15_000) })
  return { status: res.status, text: await res.text() }
}

export function envelope (inner: string, extraNs = ''): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"${extraNs}>\n  <soapenv:Header/>\n  <soapenv:Body>\n    ${inner}\n  </soapenv:Body>\n</soapenv:Envelope>`
}
