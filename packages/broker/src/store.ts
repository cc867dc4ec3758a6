import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { InvalidStateError, NotFoundError, type JobState } from '@mvm/core'
import { migrate } from './schema.js'
import { newJobId } from './ids.js'
import { assertTransition, isTerminal, summarise, type ChildCounts } from './transitions.js'
import { toEvent, toJob, toRank, json, type EventRow, type JobRow, type RankRow } from './rows.js'
import type { CheckpointRecord, Job, JobEvent, JobRequest, RankRecord } from './types.js'

/** One job's state change, returned so the broker can tell listeners after the commit. */
export interface Change { job: Job, from: JobState | null }

export interface NewJob { request: JobRequest, name: string, owner: string | null, priority: number, size: number }

export interface TransitionOptions {
  reason?: string | null
  placement?: string[] | null
  result?: unknown
  countRestart?: boolean
  /** Event detail; defaults to the reason. */
  detail?: string
}

const JOB_COLS = 'id, parent_id, is_array, name, owner, state, priority, seq, size, request, placement, reason, result, restarts, bundle_sha, created_at, updated_at, started_at, ended_at'

/**
 * The durable job store: `<dataDir>/broker.db`, WAL with synchronous=NORMAL (a committed
 * transaction survives a process crash), one transaction per operation, prepared statements only.
 */
export class JobStore {
  readonly file: string
  private readonly db: Database.Database
  private readonly now: () => number
  private seq: number
  private readonly q

  constructor (dataDir: string, now: () => number) {
    mkdirSync(dataDir, { recursive: true })
    this.file = join(dataDir, 'broker.db')
    this.now = now
    this.db = new Database(this.file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('foreign_keys = ON')
    this.db.pragma('busy_timeout = 5000')
    migrate(this.db, this.file)
    const db = this.db
    this.q = {
      insertJob: db.prepare(`INSERT INTO jobs (id, parent_id, is_array, name, owner, state, priority, seq, size, request, bundle_sha, created_at, updated_at)
        VALUES (@id, @parent_id, @is_array, @name, @owner, 'queued', @priority, @seq, @size, @request, @bundle_sha, @now, @now)`),
      insertEvent: db.prepare('INSERT INTO job_events (job_id, at, from_state, to_state, detail) VALUES (?, ?, ?, ?, ?)'),
      insertBundle: db.prepare('INSERT OR IGNORE INTO bundles (sha256, size, data, created_at) VALUES (?, ?, ?, ?)'),
      getBundle: db.prepare('SELECT data FROM bundles WHERE sha256 = ?').pluck(),
      get: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE id = ?`),
      children: db.prepare('SELECT id FROM jobs WHERE parent_id = ? ORDER BY seq').pluck(),
      childCounts: db.prepare('SELECT state, COUNT(*) AS n FROM jobs WHERE parent_id = ? GROUP BY state'),
      events: db.prepare('SELECT job_id, at, from_state, to_state, detail FROM job_events WHERE job_id = ? ORDER BY id'),
      listAll: db.prepare(`SELECT ${JOB_COLS} FROM jobs ORDER BY seq DESC LIMIT ?`),
      listState: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ?`),
      listChildren: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE parent_id = ? ORDER BY seq LIMIT ?`),
      // keyset paging over the (state, priority DESC, seq) index: no OFFSET, no full scan
      queuedFirst: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE state = 'queued' AND is_array = 0 ORDER BY priority DESC, seq LIMIT ?`),
      queuedAfter: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE state = 'queued' AND is_array = 0
        AND (priority < @priority OR (priority = @priority AND seq > @seq)) ORDER BY priority DESC, seq LIMIT @limit`),
      active: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE state IN ('scheduled', 'running') AND is_array = 0 ORDER BY seq`),
      update: db.prepare(`UPDATE jobs SET state = @state, placement = @placement, reason = @reason, result = @result,
        restarts = @restarts, updated_at = @now, started_at = @started_at, ended_at = @ended_at WHERE id = @id`),
      putRank: db.prepare(`INSERT OR REPLACE INTO rank_results (job_id, rank, exit_code, output, error, peer_id, at, started_at, finished_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      ranks: db.prepare('SELECT rank, exit_code, output, error, peer_id, started_at, finished_at FROM rank_results WHERE job_id = ? ORDER BY rank'),
      clearRanks: db.prepare('DELETE FROM rank_results WHERE job_id = ?'),
      putCheckpoint: db.prepare(`INSERT INTO checkpoints (job_id, rank, attempt, seq, state, peer_id, at) VALUES (@job_id, @rank, @attempt, @seq, @state, @peer_id, @at)
        ON CONFLICT (job_id, rank) DO UPDATE SET attempt = excluded.attempt, seq = excluded.seq, state = excluded.state, peer_id = excluded.peer_id, at = excluded.at
        WHERE excluded.attempt > checkpoints.attempt OR (excluded.attempt = checkpoints.attempt AND excluded.seq > checkpoints.seq)`),
      checkpoints: db.prepare('SELECT rank, attempt, seq, state AS stateJson, peer_id AS peerId, at FROM checkpoints WHERE job_id = ? ORDER BY rank'),
      clearCheckpoints: db.prepare('DELETE FROM checkpoints WHERE job_id = ?'),
      maxSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM jobs').pluck()
    }
    this.seq = this.q.maxSeq.get() as number
  }

  close (): void { this.db.close() }

  /** Runs several store operations as one transaction (nested ones become savepoints). */
  atomic<T> (fn: () => T): T { return this.db.transaction(fn)() }

  integrityCheck (): string { return this.db.pragma('integrity_check', { simple: true }) as string }

  /** Stores a job (and an array job's children) and its bundle in one transaction. */
  submit (parent: NewJob, children: NewJob[], bundle?: Uint8Array): { jobId: string, childJobIds: string[] } {
    return this.db.transaction(() => {
      const now = this.now()
      let bundleSha: string | null = null
      if (bundle !== undefined) {
        bundleSha = createHash('sha256').update(bundle).digest('hex')
        this.q.insertBundle.run(bundleSha, bundle.byteLength, Buffer.from(bundle), now)
      }
      const insert = (j: NewJob, parentId: string | null, isArray: boolean): string => {
        const id = newJobId(now)
        this.q.insertJob.run({
          id, parent_id: parentId, is_array: isArray ? 1 : 0, name: j.name, owner: j.owner, priority: j.priority,
          seq: ++this.seq, size: j.size, request: JSON.stringify(j.request), bundle_sha: bundleSha, now
        })
        this.q.insertEvent.run(id, now, null, 'queued', 'submitted')
        return id
      }
      const jobId = insert(parent, null, children.length > 0)
      const childJobIds = children.map((c) => insert(c, jobId, false))
      return { jobId, childJobIds }
    })()
  }

  get (id: string): Job | undefined {
    const row = this.q.get.get(id) as JobRow | undefined
    if (row === undefined) return undefined
    const job = toJob(row)
    if (row.is_array === 1) job.childIds = this.q.children.all(id) as string[]
    return job
  }

  mustGet (id: string): Job {
    const job = this.get(id)
    if (job === undefined) throw new NotFoundError(`no job ${JSON.stringify(id)}`, { data: { jobId: id } })
    return job
  }

  events (id: string): JobEvent[] { return (this.q.events.all(id) as EventRow[]).map(toEvent) }

  list (query: { state?: JobState, limit?: number, parentId?: string } = {}): Job[] {
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000))
    const rows = query.parentId !== undefined
      ? this.q.listChildren.all(query.parentId, limit)
      : query.state !== undefined ? this.q.listState.all(query.state, limit) : this.q.listAll.all(limit)
    return (rows as JobRow[]).map(toJob)
  }

  /** Queued runnable jobs in queue order, a page at a time after `after`. */
  queuedPage (after: { priority: number, seq: number } | null, limit: number): Job[] {
    const rows = after === null ? this.q.queuedFirst.all(limit) : this.q.queuedAfter.all({ ...after, limit })
    return (rows as JobRow[]).map(toJob)
  }

  active (): Job[] { return (this.q.active.all() as JobRow[]).map(toJob) }

  /**
   * Moves a job to `to` (legal transitions only) with an event, and re-derives its array
   * parent's state, all in one transaction. Requeueing forgets the attempt's rank results.
   */
  transition (id: string, to: JobState, opts: TransitionOptions = {}): Change[] {
    return this.db.transaction((): Change[] => {
      const row = this.q.get.get(id) as JobRow | undefined
      if (row === undefined) throw new NotFoundError(`no job ${JSON.stringify(id)}`, { data: { jobId: id } })
      if (row.is_array === 1) throw new InvalidStateError(`job ${id} is an array job: its state follows its children`)
      const from = row.state as JobState
      assertTransition(id, from, to)
      const now = this.now()
      const placement = opts.placement !== undefined ? json(opts.placement) : to === 'queued' ? null : row.placement
      this.q.update.run({
        id,
        state: to,
        placement,
        reason: opts.reason !== undefined ? opts.reason : row.reason,
        result: opts.result !== undefined ? json(opts.result) : row.result,
        restarts: row.restarts + (opts.countRestart === true ? 1 : 0),
        now,
        started_at: to === 'running' ? now : to === 'queued' ? null : row.started_at,
        ended_at: isTerminal(to) ? now : null
      })
      if (to === 'queued') this.q.clearRanks.run(id)
      if (isTerminal(to)) this.q.clearCheckpoints.run(id)
      this.q.insertEvent.run(id, now, from, to, opts.detail ?? opts.reason ?? null)
      const changes: Change[] = [{ job: this.mustGet(id), from }]
      if (row.parent_id !== null) {
        const p = this.resummarise(row.parent_id, now)
        if (p !== undefined) changes.push(p)
      }
      return changes
    })()
  }

  private resummarise (parentId: string, now: number): Change | undefined {
    const counts: ChildCounts = { total: 0, queued: 0, active: 0, succeeded: 0, failed: 0, cancelled: 0 }
    for (const r of this.q.childCounts.all(parentId) as Array<{ state: JobState, n: number }>) {
      counts.total += r.n
      if (r.state === 'scheduled' || r.state === 'running') counts.active += r.n
      else counts[r.state] += r.n
    }
    const parent = this.q.get.get(parentId) as JobRow
    const from = parent.state as JobState
    const to = summarise(counts)
    if (to === from) return undefined
    const reason = to === 'failed' ? `${counts.failed} of ${counts.total} child jobs failed` : parent.reason
    this.q.update.run({
      id: parentId, state: to, placement: null, reason, result: parent.result, restarts: parent.restarts, now,
      started_at: parent.started_at ?? (to === 'queued' ? null : now),
      ended_at: isTerminal(to) ? now : null
    })
    this.q.insertEvent.run(parentId, now, from, to, 'summary of child jobs')
    return { job: this.mustGet(parentId), from }
  }

  putRank (id: string, r: RankRecord): void {
    this.q.putRank.run(id, r.rank, r.exitCode, json(r.output), r.error ?? null, r.peerId ?? null, this.now(), r.startedAtMs ?? null, r.finishedAtMs ?? null)
  }

  ranks (id: string): RankRecord[] { return (this.q.ranks.all(id) as RankRow[]).map(toRank) }

  /** Keeps a rank's checkpoint unless a newer one (later attempt, or same attempt and higher seq) is stored; true when kept. */
  putCheckpoint (id: string, c: Omit<CheckpointRecord, 'at'>): boolean {
    return this.q.putCheckpoint.run({ job_id: id, rank: c.rank, attempt: c.attempt, seq: c.seq, state: c.stateJson, peer_id: c.peerId, at: this.now() }).changes > 0
  }

  checkpoints (id: string): CheckpointRecord[] { return this.q.checkpoints.all(id) as CheckpointRecord[] }

  bundle (sha256: string): Uint8Array | undefined {
    const b = this.q.getBundle.get(sha256) as Buffer | undefined
    return b === undefined ? undefined : new Uint8Array(b)
  }
}
