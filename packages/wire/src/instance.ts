import type { RankGraph } from '@mvm/model'

/**
 * What the broker stores with each job and sends to every chosen peer in `Instantiate.spec`
 * (UTF-8 JSON): everything a node needs to run its share of the job, with nothing that
 * depends on which node reads it. The peer adds its own id (`self`) before handing it to
 * the runtime.
 */
export interface InstantiateSpec {
  jobId: string
  owner: string
  name: string
  program: { source: string, language: 'ts' | 'js', path?: string }
  graph: RankGraph
  /** Node (peer id) per rank; index = rank. */
  placement: string[]
  /** Listen addresses of every node in the placement, so peers can open queue streams to each other. */
  addresses: Record<string, string[]>
  params: Record<string, unknown>
  resources: { memoryMB: number, cpuTimeSec?: number, wallTimeSec: number }
  queue: { type: 'fifo' | 'priority', capacity: number, encoding: 'json' | 'protobuf' | 'raw' }
  /** True when restarted by fault tolerance: ranks get their last checkpoint as `ctx.restored`. */
  resume: boolean
  /**
   * With `resume`: the last checkpoint the broker holds per rank (only the ranks placed on the
   * receiving peer, to keep Instantiate small), handed to each rank as `ctx.restored`.
   */
  restored?: Record<number, unknown>
  /**
   * The profile's `checkpoint`: `coordinated` makes `ctx.checkpoint()` a point the ranks pass in
   * step, and stored states consistent cuts that include the messages in flight on the ports.
   */
  checkpoint?: { mode: 'rank' | 'coordinated', intervalSec: number }
  /** Files placed read-only in every rank's work dir, by content id in the data store. */
  inputs?: InstanceInput[]
  /** Earlier jobs' outputs to place as inputs; the super-peer turns them into `inputs` at dispatch. */
  inputsFrom?: Array<{ name: string, jobId: string, output: string, mode: InstanceInput['mode'] }>
  /** Work-dir paths collected from the ranks after success. */
  outputs?: Array<{ path: string, ranks: 'all' | number[] }>
  /** Nodes that hold the inputs (the super-peer first), for /mvm/data/1.0.0 fetches. */
  dataHolders?: Array<{ peerId: string, addrs: string[] }>
  /**
   * The profile's golden environment: `id` is the content id of its tree (a JSON list of files
   * by content id), built once per group by the super-peer; peers write it out once and
   * hard-link it into every rank's work dir. Set at submission once the tree exists.
   */
  environment?: JobEnvironment
}

export interface JobEnvironment {
  kind: 'npm' | 'folder'
  /** Content id of the environment's tree (see EnvironmentTree in @mvm/data). */
  id?: string
  /** The build key: the lockfile's content id for npm, the folder's file list for a folder. */
  key?: string
  /** An npm environment given as packages (name → version, or `file:<path>` of an uploaded tarball). */
  packages?: Record<string, string>
  /**
   * The files it is built from (path under the environment's folder, content id) while it is
   * not built yet (`id` unset): the super-peer builds it after accepting the job; peers never
   * see this.
   */
  sources?: Array<{ path: string, id: string }>
}

export interface InstanceInput {
  name: string
  id: string
  size: number
  /** `prefetch`: the whole file is there before the rank starts; `onDemand`: only what it reads is fetched. */
  mode: 'prefetch' | 'onDemand'
}

/** The part of a InstantiateSpec known at submission (placement and addresses come at dispatch). */
export type InstanceTemplate = Omit<InstantiateSpec, 'jobId' | 'placement' | 'addresses' | 'resume' | 'restored' | 'dataHolders'>

export const DEFAULT_RESOURCES = { memoryMB: 256, wallTimeSec: 3600 } as const

export function encodeInstance (i: InstantiateSpec): Uint8Array { return new TextEncoder().encode(JSON.stringify(i)) }
export function decodeInstance (b: Uint8Array): InstantiateSpec { return JSON.parse(new TextDecoder().decode(b)) as InstantiateSpec }
