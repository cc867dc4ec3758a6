import type { Broker, Job } from '@mvm/broker'
import type { Logger } from '@mvm/core'
import type { DataInput, JobParam, SubmitJobRequest } from '@mvm/soap'
import { parseDocument } from 'yaml'
import type { CrossGroup } from './cross-group.js'
import { decodeStoredBundle } from './submission.js'

/** What of a submission is needed to offer it again later; the program and profile are in the stored bundle. */
interface Kept { profileName?: string, params: JobParam[], owner?: string, inputs?: DataInput[] }

export interface WaitingJobsInit {
  broker: Broker
  cross: CrossGroup
  /** The policy's scheduling.crossGroupAfterSec (read at each round). */
  afterSec: () => number | undefined
  /** The policy's scheduling.crossGroup is `allow`. */
  allowed: () => boolean
  /** Why the group can never run this job as it is now (too few slots in all, no peer matching), if so. */
  neverFits: (job: Job) => string | undefined
  load: () => string | null
  save: (json: string) => void
  log: Logger
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled'])
/** Jobs kept for a later offer, at most (the oldest are forgotten first: they stay here). */
const MAX_KEPT = 10_000
/** A job no group took is offered again after this long at the earliest. */
const RETRY_MS = 5000
/** Offers made per round, at most: a round must not hold the broker's other work back. */
const PER_ROUND = 8

/**
 * Jobs between groups, for jobs that were accepted here: one that waits longer than the
 * policy's `crossGroupAfterSec`, or that the group can never run (accepted to wait for its
 * dependencies or under `waitForCapacity`), is offered to the other groups once its
 * dependencies are done. Taken, it is cancelled here naming the group and id it went to
 * (calls on its id here follow it); not taken, it waits on (offered again later). If it
 * started here while it was offered, the copy the other group took is cancelled there.
 */
export class WaitingJobs {
  private readonly kept = new Map<string, Kept>()
  private readonly tried = new Map<string, number>()
  private busy = false

  constructor (private readonly init: WaitingJobsInit) {
    try {
      for (const [id, k] of Object.entries(JSON.parse(init.load() ?? '{}') as Record<string, Kept>)) if (Array.isArray(k?.params)) this.kept.set(id, k)
    } catch (err) {
      init.log.warn({ err: (err as Error).message }, 'stored jobs waiting for another group unreadable; they wait here')
    }
  }

  /** A submission stored here that another group may run later: keeps what an offer needs. */
  remember (jobId: string, req: SubmitJobRequest): void {
    if ((req.viaGroups ?? []).length > 0) return
    this.kept.set(jobId, {
      params: req.params,
      ...(req.profileName !== undefined ? { profileName: req.profileName } : {}),
      ...(req.owner !== undefined ? { owner: req.owner } : {}),
      ...(req.inputs !== undefined && req.inputs.length > 0 ? { inputs: req.inputs } : {})
    })
    for (const k of this.kept.keys()) { if (this.kept.size <= MAX_KEPT) break; this.kept.delete(k) }
    this.persist()
  }

  /** One round: the kept jobs that are due are offered (a few per round, one round at a time). */
  async round (): Promise<void> {
    if (this.busy || this.kept.size === 0) return
    this.busy = true
    try {
      let offered = 0
      let changed = false
      for (const [id, k] of [...this.kept]) {
        let job: Job
        try { job = this.init.broker.get(id) } catch { this.kept.delete(id); changed = true; continue }
        if (TERMINAL.has(job.state)) { this.kept.delete(id); this.tried.delete(id); changed = true; continue }
        if (offered >= PER_ROUND || !this.init.allowed()) continue
        const why = this.due(job)
        if (why === undefined) continue
        offered++
        if (await this.offer(job, k, why)) { this.kept.delete(id); changed = true }
      }
      if (changed) this.persist()
    } finally { this.busy = false }
  }

  /** Why the job should go now, or undefined while it stays. */
  private due (job: Job): string | undefined {
    if (job.state !== 'queued' || job.childIds !== undefined) return undefined
    if (Date.now() - (this.tried.get(job.id) ?? 0) < RETRY_MS) return undefined
    for (const d of job.request.dependsOn ?? []) {
      let dep: Job
      try { dep = this.init.broker.get(d.jobId) } catch { continue }
      if (!TERMINAL.has(dep.state)) return undefined
    }
    const never = this.init.neverFits(job)
    if (never !== undefined) return never
    const after = this.init.afterSec()
    const waited = Date.now() - job.createdAt
    return after !== undefined && waited >= after * 1000 ? `queued ${Math.round(waited / 1000)} s here (policy scheduling.crossGroupAfterSec: ${after})` : undefined
  }

  private async offer (job: Job, k: Kept, why: string): Promise<boolean> {
    const { broker, log } = this.init
    this.tried.set(job.id, Date.now())
    let req: SubmitJobRequest
    try { req = this.request(job, k) } catch (err) {
      log.warn({ jobId: job.id, err: (err as Error).message }, 'waiting job cannot be offered to another group; it waits here')
      this.kept.delete(job.id)
      return false
    }
    let to: { group: string, jobId: string }
    try {
      to = await this.init.cross.passWaiting(req, job.id, why)
    } catch (err) {
      log.info({ jobId: job.id, err: (err as Error).message }, 'no other group took a waiting job; it waits here')
      return false
    }
    // (no await between the check and the cancel's transition: the scheduler cannot start it in between)
    if (broker.get(job.id).state === 'queued') {
      await broker.cancel(job.id, { by: `cross-group: passed on to group ${to.group} as ${to.jobId}` })
      return true
    }
    // it started here while it was offered: the copy there goes
    await this.init.cross.unpass(job.id)
    return true
  }

  /** The submission again, from the stored bundle, without its dependencies (they are done). */
  private request (job: Job, k: Kept): SubmitJobRequest {
    const bundle = decodeStoredBundle(job.bundleSha === null ? undefined : this.init.broker.bundle(job.bundleSha))
    const name = k.profileName ?? 'profile.yaml'
    const file = bundle.find((f) => f.path === name)
    if (file === undefined) throw new Error(`the stored bundle has no ${name}`)
    const doc = parseDocument(new TextDecoder().decode(file.content))
    doc.deleteIn(['spec', 'dependsOn'])
    const profileYaml = doc.toString()
    const content = new TextEncoder().encode(profileYaml)
    return {
      profileYaml,
      profileName: name,
      params: k.params,
      bundle: bundle.map((f) => f.path === name ? { path: f.path, content } : f),
      ...(k.owner !== undefined ? { owner: k.owner } : {}),
      ...(k.inputs !== undefined ? { inputs: k.inputs } : {})
    }
  }

  private persist (): void { this.init.save(JSON.stringify(Object.fromEntries(this.kept))) }
}
