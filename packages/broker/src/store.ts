import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { InvalidStateError, JobState, NotFoundError } from '@mvm/core'
import { migrate } from './schema.js'
import { RAND_AT, newJobId } from './ids.js'
import { assertTransition, isTerminal, summarise, type ChildCounts } from './transitions.js'
import { QueueIndex } from './queue-index.js'
import type { Dependency } from './deps.js'
import { toEvent, toJob, toRank, json, type EventRow, type JobRow, type RankRow } from './rows.js'
import type { CheckpointRecord, HistoryQuery, Job, JobEvent, JobRequest, RankRecord } from './types.js'

/** One job's state change, returned so the broker can tell listeners after the commit. */
export interface Change { job: Job, from: JobState | null }

export interface NewJob { request: JobRequest, name: string, owner: string | null, priority: number, size: number }

/** One submission for {@link JobStore.submitMany}: a job (or array parent), its children, its bundle. */
export interface NewSubmission { parent: NewJob, children: NewJob[], bundle?: Uint8Array | undefined }

export interface TransitionOptions {
  reason?: string | null
  placement?: string[] | null
  result?: unknown
  countRestart?: boolean
  /** Sets the restart count (a requeue by hand starts a fresh run from 0). */
  restarts?: number
  /** An ended job queued again by an explicit requeue (otherwise terminal states are final). */
  rerun?: boolean
  /** Event detail; defaults to the reason. */
  detail?: string
  /** Poison-job accounting to store with the change (see FaultTolerance.poisonAfter). */
  faults?: { nodeDeaths: number, failureStreak: number, lastFailure: string | null }
}

/** How many recently ended jobs `get()` answers from memory. */
const ENDED_KEPT = 2048

const JOB_COLS = 'id, parent_id, is_array, name, owner, state, priority, seq, size, request, placement, reason, result, restarts, bundle_sha, created_at, updated_at, started_at, ended_at, node_deaths, failure_streak, last_failure'

/**
 * The durable job store: `<dataDir>/broker.db`, WAL with synchronous=NORMAL (a committed
 * transaction survives a process crash), prepared statements only.
 *
 * Group commit: the state changes of one event-loop turn share one transaction, committed on
 * the next turn (`flush()` waits for it), so a burst of rank reports costs one commit, not one
 * each. A state change's own writes are deferred to that commit (or to the next statement that
 * must see them), so a scheduling decision runs in memory. A submission is the exception: `submit()` commits before it returns (the pending
 * changes with it), so an id handed to a client is never lost to a crash. Each operation still
 * runs as a savepoint inside the batch, so a failing one leaves no partial change.
 *
 * Jobs that are not terminal are also kept in memory (`get()` of an active or queued job does
 * not touch SQLite), and the runnable queued ones in a {@link QueueIndex} that the scheduler
 * pops in queue order; SQLite stays the record they are rebuilt from at start.
 */
export class JobStore {
  readonly file: string
  /** Runnable queued jobs in queue order (priority, then submission). */
  readonly queue: QueueIndex
  private readonly db: Database.Database
  private readonly now: () => number
  private seq: number
  private readonly q
  private readonly live = new Map<string, Job>()
  /** Jobs that ended lately: a terminal job never changes again, and clients read it right after it ends. */
  private readonly ended = new Map<string, Job>()
  /** Child states per array parent still live, kept so a child's change does not count them all again. */
  private readonly counts = new Map<string, ChildCounts>()
  private batchOpen = false
  private readonly historyStmts = new Map<string, Database.Statement>()
  /** Writes of state changes not yet run: run in order before any other statement, and at commit. */
  private deferred: Array<() => void> = []
  private waiters: Array<{ resolve: () => void, reject: (err: unknown) => void }> = []
  /** Ids changed inside the current `atomic()`, reloaded from SQLite if it rolls back. */
  private touched: Set<string> | null = null
  private readonly onCommitError: (err: unknown) => void
  /** Whether job_deps holds any row (set once one is stored). */
  private anyDependency = false

  constructor (dataDir: string, now: () => number, opts: { onCommitError?: (err: unknown) => void } = {}) {
    mkdirSync(dataDir, { recursive: true })
    this.file = join(dataDir, 'broker.db')
    this.now = now
    this.onCommitError = opts.onCommitError ?? (() => {})
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
      // array parents only summarise their children: counting both would count each run twice
      stateCounts: db.prepare('SELECT state, COUNT(*) AS n FROM jobs WHERE is_array = 0 GROUP BY state'),
      childCounts: db.prepare('SELECT state, COUNT(*) AS n FROM jobs WHERE parent_id = ? GROUP BY state'),
      events: db.prepare('SELECT job_id, at, from_state, to_state, detail FROM job_events WHERE job_id = ? ORDER BY id'),
      // a range on the primary key: a prefix lookup reads only the ids it matches
      idsFrom: db.prepare('SELECT id FROM jobs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?').pluck(),
      // the random tail has no index: a scan, done only when the time-ordered prefix missed
      idsByTail: db.prepare('SELECT id FROM jobs WHERE substr(id, ?, ?) = ? ORDER BY id LIMIT ?').pluck(),
      listAll: db.prepare(`SELECT ${JOB_COLS} FROM jobs ORDER BY seq DESC LIMIT ?`),
      listState: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE state = ? ORDER BY seq DESC LIMIT ?`),
      listChildren: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE parent_id = ? ORDER BY seq LIMIT ?`),
      notTerminal: db.prepare(`SELECT ${JOB_COLS} FROM jobs WHERE state IN ('queued', 'scheduled', 'running', 'held') ORDER BY seq`),
      update: db.prepare(`UPDATE jobs SET state = @state, placement = @placement, reason = @reason, result = @result,
        restarts = @restarts, updated_at = @now, started_at = @started_at, ended_at = @ended_at,
        node_deaths = @node_deaths, failure_streak = @failure_streak, last_failure = @last_failure WHERE id = @id`),
      getSetting: db.prepare('SELECT value FROM settings WHERE key = ?').pluck(),
      putSetting: db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at'),
      deleteSetting: db.prepare('DELETE FROM settings WHERE key = ?'),
      putRank: db.prepare(`INSERT OR REPLACE INTO rank_results (job_id, rank, exit_code, output, error, peer_id, at, started_at, finished_at, cpu_sec, max_rss_mb, exit_reason, outputs)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      ranks: db.prepare('SELECT rank, exit_code, output, error, peer_id, started_at, finished_at, cpu_sec, max_rss_mb, exit_reason, outputs FROM rank_results WHERE job_id = ? ORDER BY rank'),
      clearRanks: db.prepare('DELETE FROM rank_results WHERE job_id = ?'),
      putCheckpoint: db.prepare(`INSERT INTO checkpoints (job_id, rank, attempt, seq, state, peer_id, at) VALUES (@job_id, @rank, @attempt, @seq, @state, @peer_id, @at)
        ON CONFLICT (job_id, rank) DO UPDATE SET attempt = excluded.attempt, seq = excluded.seq, state = excluded.state, peer_id = excluded.peer_id, at = excluded.at
        WHERE excluded.attempt > checkpoints.attempt OR (excluded.attempt = checkpoints.attempt AND excluded.seq > checkpoints.seq)`),
      checkpoints: db.prepare('SELECT rank, attempt, seq, state AS stateJson, peer_id AS peerId, at FROM checkpoints WHERE job_id = ? ORDER BY rank'),
      clearCheckpoints: db.prepare('DELETE FROM checkpoints WHERE job_id = ?'),
      putCut: db.prepare(`INSERT OR IGNORE INTO cuts (job_id, attempt, cut, rank, state, peer_id, at) VALUES (@job_id, @attempt, @cut, @rank, @state, @peer_id, @at)`),
      // the newest (attempt, cut) every rank stored: a later attempt's cuts follow the cut it resumed from
      completeCut: db.prepare(`SELECT attempt, cut FROM cuts WHERE job_id = ? GROUP BY attempt, cut HAVING COUNT(*) = ?
        ORDER BY attempt DESC, cut DESC LIMIT 1`),
      cutRows: db.prepare('SELECT rank, attempt, cut AS seq, state AS stateJson, peer_id AS peerId, at FROM cuts WHERE job_id = ? AND attempt = ? AND cut = ? ORDER BY rank'),
      dropOlderCuts: db.prepare('DELETE FROM cuts WHERE job_id = ? AND (attempt < ? OR (attempt = ? AND cut < ?))'),
      clearCuts: db.prepare('DELETE FROM cuts WHERE job_id = ?'),
      dropNewerCuts: db.prepare('DELETE FROM cuts WHERE job_id = ? AND (attempt > ? OR (attempt = ? AND cut > ?))'),
      dropCutsExcept: db.prepare('DELETE FROM cuts WHERE job_id = ? AND NOT (attempt = ? AND cut = ?)'),
      reshape: db.prepare('UPDATE jobs SET size = @size, request = @request, placement = @placement, restarts = @restarts, updated_at = @now WHERE id = @id'),
      insertDep: db.prepare('INSERT OR IGNORE INTO job_deps (job_id, dep_id, type) VALUES (?, ?, ?)'),
      latestByName: db.prepare('SELECT id FROM jobs WHERE name = ? ORDER BY seq DESC LIMIT 1').pluck(),
      dependents: db.prepare('SELECT DISTINCT job_id FROM job_deps WHERE dep_id = ?').pluck(),
      prunable: db.prepare('SELECT id FROM jobs WHERE parent_id IS NULL AND ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at LIMIT ?').pluck(),
      deleteDeps: db.prepare('DELETE FROM job_deps WHERE job_id = ? OR dep_id = ?'),
      deleteEvents: db.prepare('DELETE FROM job_events WHERE job_id = ?'),
      deleteJob: db.prepare('DELETE FROM jobs WHERE id = ?'),
      deleteOrphanBundles: db.prepare('DELETE FROM bundles WHERE sha256 NOT IN (SELECT bundle_sha FROM jobs WHERE bundle_sha IS NOT NULL)'),
      maxSeq: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM jobs').pluck(),
      totalChanges: db.prepare('SELECT total_changes()').pluck()
    }
    this.anyDependency = db.prepare('SELECT EXISTS (SELECT 1 FROM job_deps)').pluck().get() === 1
    this.seq = this.q.maxSeq.get() as number
    this.queue = new QueueIndex((id) => this.live.get(id)?.state === 'queued')
    this.loadLive()
  }

  close (): void {
    if (!this.db.open) return
    this.commit()
    this.db.close()
  }

  /**
   * Rows changed through this store since it opened (SQLite's total_changes): a standby compares
   * it to decide whether a new snapshot is due (writes still pending count once they run).
   */
  changeCount (): number {
    return this.q.totalChanges.get() as number
  }

  /**
   * The whole database as one SQLite file image, committed state only (pending writes are
   * committed first): what a standby super-peer stores as its copy of the broker.
   */
  snapshot (): Buffer {
    this.commit()
    return this.db.serialize()
  }

  /** Resolves once every change made so far is committed (at once when none is pending). */
  async flush (): Promise<void> {
    if (!this.batchOpen) return
    await new Promise<void>((resolve, reject) => { this.waiters.push({ resolve, reject }) })
  }

  /** Runs several store operations as one unit (savepoints inside the batch): all or none. */
  atomic<T> (fn: () => T): T {
    this.begin()
    if (this.touched !== null) return this.db.transaction(fn)()
    // earlier writes run first, so a rollback of this unit cannot take them with it
    this.drain()
    this.inBatch()
    this.touched = new Set()
    try {
      return this.db.transaction(fn)()
    } catch (err) {
      // SQLite rolled the savepoint back: this unit's deferred writes and in-memory copies must follow
      this.deferred.length = 0
      for (const id of this.touched) this.reload(id)
      throw err
    } finally {
      this.touched = null
    }
  }

  integrityCheck (): string { this.drain(); return this.db.pragma('integrity_check', { simple: true }) as string }

  /** Stores a job (and an array job's children) and its bundle, durably before it returns. */
  submit (parent: NewJob, children: NewJob[], bundle?: Uint8Array): { jobId: string, childJobIds: string[] } {
    return this.submitMany([{ parent, children, bundle }])[0]!
  }

  /**
   * Several submissions in one transaction (a savepoint in the batch): all or none. Committed
   * with any pending change before it returns, unless `commit: 'batch'`: then it joins this
   * turn's batch and is durable once `flush()` resolves (concurrent submits share a commit).
   */
  submitMany (subs: readonly NewSubmission[], opts: { commit?: 'now' | 'batch' } = {}): Array<{ jobId: string, childJobIds: string[] }> {
    this.begin()
    this.drain()
    this.inBatch()
    const made: Job[] = []
    const seq0 = this.seq
    let out: Array<{ jobId: string, childJobIds: string[] }>
    try {
      out = this.db.transaction(() => subs.map((s) => this.insertSubmission(s, made)))()
    } catch (err) {
      this.seq = seq0
      throw err
    }
    for (const j of made) {
      this.live.set(j.id, j)
      if (j.childIds === undefined) this.queue.push(j)
    }
    if (opts.commit !== 'batch') this.commit()
    return out
  }

  private insertSubmission (s: NewSubmission, made: Job[]): { jobId: string, childJobIds: string[] } {
    const now = this.now()
    let bundleSha: string | null = null
    if (s.bundle !== undefined) {
      bundleSha = createHash('sha256').update(s.bundle).digest('hex')
      this.q.insertBundle.run(bundleSha, s.bundle.byteLength, Buffer.from(s.bundle), now)
    }
    const insert = (j: NewJob, parentId: string | null, isArray: boolean): Job => {
      const id = newJobId(now)
      const seq = ++this.seq
      this.q.insertJob.run({
        id, parent_id: parentId, is_array: isArray ? 1 : 0, name: j.name, owner: j.owner, priority: j.priority,
        seq, size: j.size, request: JSON.stringify(j.request), bundle_sha: bundleSha, now
      })
      this.q.insertEvent.run(id, now, null, 'queued', 'submitted')
      if (!isArray) for (const d of dependenciesOfRequest(j.request)) { this.q.insertDep.run(id, d.jobId, d.type); this.anyDependency = true }
      const job: Job = {
        id, parentId, name: j.name, owner: j.owner, state: 'queued', priority: j.priority, seq, size: j.size, request: j.request,
        placement: null, reason: null, result: null, restarts: 0, bundleSha, createdAt: now, updatedAt: now, startedAt: null, endedAt: null,
        nodeDeaths: 0, failureStreak: 0, lastFailure: null
      }
      made.push(job)
      return job
    }
    const parent = insert(s.parent, null, s.children.length > 0)
    const childJobIds = s.children.map((c) => insert(c, parent.id, false).id)
    if (s.children.length > 0) {
      parent.childIds = childJobIds
      this.counts.set(parent.id, { total: childJobIds.length, queued: childJobIds.length, active: 0, succeeded: 0, failed: 0, cancelled: 0 })
    }
    return { jobId: parent.id, childJobIds }
  }

  get (id: string): Job | undefined {
    const hit = this.live.get(id) ?? this.ended.get(id)
    if (hit !== undefined) return hit
    return this.fromDb(id)
  }

  mustGet (id: string): Job {
    const job = this.get(id)
    if (job === undefined) throw new NotFoundError(`no job ${JSON.stringify(id)}`, { data: { jobId: id } })
    return job
  }

  /**
   * Ids starting with `prefix` (at most `limit`, in id order). Without the `j-` of every id, the
   * prefix is also tried on the random part (`0lmz` finds `j-0mx7s9qud-0lmzj2he`): ids made
   * close in time share their leading characters, so that part tells them apart sooner.
   */
  idsWithPrefix (prefix: string, limit: number): string[] {
    this.drain()
    const byId = this.q.idsFrom.all(prefix, prefix + '\uffff', limit) as string[]
    if (byId.length > 0 || prefix.startsWith('j-') || !/^[0-9a-z]+$/.test(prefix)) return byId
    const withJ = this.q.idsFrom.all('j-' + prefix, 'j-' + prefix + '\uffff', limit) as string[]
    if (withJ.length > 0) return withJ
    return this.q.idsByTail.all(RAND_AT, prefix.length, prefix, limit) as string[]
  }

  events (id: string): JobEvent[] { this.drain(); return (this.q.events.all(id) as EventRow[]).map(toEvent) }

  /** Jobs by state, every state present (zeros included); array parents are not counted. */
  countByState (): Record<JobState, number> {
    this.drain()
    const out = Object.fromEntries(Object.values(JobState).map((s) => [s, 0])) as Record<JobState, number>
    for (const r of this.q.stateCounts.all() as Array<{ state: JobState, n: number }>) out[r.state] = r.n
    return out
  }

  list (query: { state?: JobState, limit?: number, parentId?: string } = {}): Job[] {
    this.drain()
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000))
    const rows = query.parentId !== undefined
      ? this.q.listChildren.all(query.parentId, limit)
      : query.state !== undefined ? this.q.listState.all(query.state, limit) : this.q.listAll.all(limit)
    return (rows as JobRow[]).map(toJob)
  }

  /**
   * Finished jobs (array parents left out: their children are listed), newest end first.
   * `since`/`until` bound the end time (epoch ms, until exclusive).
   */
  history (query: HistoryQuery = {}): Job[] {
    this.drain()
    const where = ['ended_at IS NOT NULL', 'is_array = 0']
    const args: unknown[] = []
    if (query.owner !== undefined) { where.push('owner = ?'); args.push(query.owner) }
    if (query.state !== undefined) { where.push('state = ?'); args.push(query.state) }
    if (query.since !== undefined) { where.push('ended_at >= ?'); args.push(query.since) }
    if (query.until !== undefined) { where.push('ended_at < ?'); args.push(query.until) }
    if (query.name !== undefined) { where.push('name = ?'); args.push(query.name) }
    const limit = Math.max(1, Math.min(query.limit ?? 100, 10_000))
    // few distinct shapes (one per filter combination): prepared once each
    const sql = `SELECT ${JOB_COLS} FROM jobs WHERE ${where.join(' AND ')} ORDER BY ended_at DESC, seq DESC LIMIT ?`
    let stmt = this.historyStmts.get(sql)
    if (stmt === undefined) { stmt = this.db.prepare(sql); this.historyStmts.set(sql, stmt) }
    return (stmt.all(...args, limit) as JobRow[]).map(toJob)
  }

  /**
   * Forgets finished jobs that ended before `cutoff` (epoch ms) with their events, rank results
   * and checkpoints, and the bundles no remaining job refers to; at most `max` top-level jobs per
   * call so a first prune of a large store does not stall the broker. An array job goes whole,
   * once the array ended; returns how many jobs (children included) went.
   */
  prune (cutoff: number, max = 1000): number {
    this.begin()
    this.drain()
    this.inBatch()
    const top = this.q.prunable.all(cutoff, max) as string[]
    if (top.length === 0) return 0
    let n = 0
    for (const id of top) {
      const ids = [...(this.q.children.all(id) as string[]), id]
      for (const j of ids) {
        this.q.deleteDeps.run(j, j); this.q.deleteEvents.run(j); this.q.clearRanks.run(j); this.q.clearCheckpoints.run(j); this.q.clearCuts.run(j); this.q.deleteJob.run(j)
        this.counts.delete(j)
      }
      n += ids.length
    }
    this.q.deleteOrphanBundles.run()
    return n
  }

  /** Dispatched jobs (scheduled or running), in submission order. */
  active (): Job[] {
    return [...this.live.values()].filter((j) => j.childIds === undefined && (j.state === 'scheduled' || j.state === 'running')).sort((a, b) => a.seq - b.seq)
  }

  /**
   * Moves a job to `to` (legal transitions only) with an event, and re-derives its array
   * parent's state, as one unit. Requeueing forgets the attempt's rank results.
   */
  transition (id: string, to: JobState, opts: TransitionOptions = {}): Change[] {
    this.begin()
    const prev = this.get(id)
    if (prev === undefined) throw new NotFoundError(`no job ${JSON.stringify(id)}`, { data: { jobId: id } })
    if (prev.childIds !== undefined) throw new InvalidStateError(`job ${id} is an array job: its state follows its children`)
    const from = prev.state
    assertTransition(id, from, to, opts.rerun === true)
    const now = this.now()
    const next: Job = {
      ...prev,
      state: to,
      placement: opts.placement !== undefined ? opts.placement : to === 'queued' ? null : prev.placement,
      reason: opts.reason !== undefined ? opts.reason : prev.reason,
      result: opts.result !== undefined ? opts.result : prev.result,
      restarts: (opts.restarts ?? prev.restarts) + (opts.countRestart === true ? 1 : 0),
      updatedAt: now,
      startedAt: to === 'running' ? now : to === 'queued' ? null : prev.startedAt,
      endedAt: isTerminal(to) ? now : null,
      ...(opts.faults !== undefined ? opts.faults : {})
    }
    const counts = prev.parentId === null ? undefined : moved(this.countsOf(prev.parentId), from, to)
    const parentChange = prev.parentId === null ? undefined : this.resummarise(prev.parentId, counts!, now)
    const result = opts.result !== undefined ? json(opts.result) : col(prev.result)
    const detail = opts.detail ?? opts.reason ?? null
    // run with the batch, in order: a scheduling decision does not wait for SQLite
    this.deferred.push(() => {
      this.q.update.run({
        id,
        state: to,
        placement: col(next.placement),
        reason: next.reason,
        result,
        restarts: next.restarts,
        now,
        started_at: next.startedAt,
        ended_at: next.endedAt,
        ...faultCols(next)
      })
      if (to === 'queued') this.q.clearRanks.run(id)
      if (isTerminal(to)) { this.q.clearCheckpoints.run(id); this.q.clearCuts.run(id) }
      this.q.insertEvent.run(id, now, from, to, detail)
    })
    this.setLive(next)
    if (to === 'queued') this.queue.push(next)
    if (prev.parentId !== null) {
      if (parentChange !== undefined) this.setLive(parentChange.job)
      if (this.live.has(prev.parentId)) this.counts.set(prev.parentId, counts!)
      else this.counts.delete(prev.parentId)
    }
    const changes: Change[] = [{ job: next, from }]
    if (parentChange !== undefined) changes.push(parentChange)
    return changes
  }

  /** The parent's new summary state, if it changed (its write deferred); the caller updates the in-memory copy. */
  private resummarise (parentId: string, counts: ChildCounts, now: number): Change | undefined {
    const parent = this.get(parentId)
    if (parent === undefined) return undefined
    const from = parent.state
    const to = summarise(counts)
    if (to === from) return undefined
    const reason = to === 'failed' ? `${counts.failed} of ${counts.total} child jobs failed` : parent.reason
    const next: Job = {
      ...parent,
      state: to,
      placement: null,
      reason,
      updatedAt: now,
      startedAt: parent.startedAt ?? (to === 'queued' ? null : now),
      endedAt: isTerminal(to) ? now : null
    }
    const result = col(parent.result)
    this.deferred.push(() => {
      this.q.update.run({
        id: parentId, state: to, placement: null, reason, result, restarts: parent.restarts, now,
        started_at: next.startedAt, ended_at: next.endedAt, ...faultCols(parent)
      })
      this.q.insertEvent.run(parentId, now, from, to, 'summary of child jobs')
    })
    return { job: next, from }
  }

  private countsOf (parentId: string): ChildCounts {
    const have = this.counts.get(parentId)
    if (have !== undefined) return have
    this.drain()
    const counts: ChildCounts = { total: 0, queued: 0, active: 0, succeeded: 0, failed: 0, cancelled: 0 }
    for (const r of this.q.childCounts.all(parentId) as Array<{ state: JobState, n: number }>) {
      counts.total += r.n
      counts[bucket(r.state)] += r.n
    }
    return counts
  }

  putRank (id: string, r: RankRecord): void {
    this.begin()
    this.drain()
    this.inBatch()
    this.q.putRank.run(id, r.rank, r.exitCode, json(r.output), r.error ?? null, r.peerId ?? null, this.now(), r.startedAtMs ?? null, r.finishedAtMs ?? null, r.cpuSec ?? null, r.maxRssMB ?? null, r.exitReason ?? null, r.outputs === undefined || r.outputs.length === 0 ? null : JSON.stringify(r.outputs))
  }

  /** The latest job (array parents included) submitted under `name`, if any. */
  latestByName (name: string): string | undefined { this.drain(); return this.q.latestByName.get(name) as string | undefined }

  /** Queued jobs that can be scheduled (not array parents), in no particular order. */
  queuedJobs (): Job[] { return [...this.live.values()].filter((j) => j.state === 'queued' && j.childIds === undefined) }

  /** Jobs that depend on `id` (any state; the caller looks at which still wait). */
  dependents (id: string): string[] {
    // most stores never see a dependency: a job's end then costs no query
    if (!this.anyDependency) return []
    this.drain()
    return this.q.dependents.all(id) as string[]
  }

  ranks (id: string): RankRecord[] { this.drain(); return (this.q.ranks.all(id) as RankRow[]).map(toRank) }

  /** Keeps a rank's checkpoint unless a newer one (later attempt, or same attempt and higher seq) is stored; true when kept. */
  putCheckpoint (id: string, c: Omit<CheckpointRecord, 'at'>): boolean {
    this.begin()
    this.drain()
    this.inBatch()
    return this.q.putCheckpoint.run({ job_id: id, rank: c.rank, attempt: c.attempt, seq: c.seq, state: c.stateJson, peer_id: c.peerId, at: this.now() }).changes > 0
  }

  checkpoints (id: string): CheckpointRecord[] { this.drain(); return this.q.checkpoints.all(id) as CheckpointRecord[] }

  /**
   * Keeps one rank's share of a coordinated cut; once a cut is complete (all `size` ranks),
   * older cuts are dropped. True when kept (a repeated share is ignored).
   */
  putCut (id: string, size: number, c: { rank: number, attempt: number, cut: number, stateJson: string, peerId: string | null }): boolean {
    this.begin()
    this.drain()
    this.inBatch()
    const kept = this.q.putCut.run({ job_id: id, attempt: c.attempt, cut: c.cut, rank: c.rank, state: c.stateJson, peer_id: c.peerId, at: this.now() }).changes > 0
    const done = this.q.completeCut.get(id, size) as { attempt: number, cut: number } | undefined
    if (done !== undefined) this.q.dropOlderCuts.run(id, done.attempt, done.attempt, done.cut)
    return kept
  }

  /**
   * Forgets the shares of cuts newer than the newest complete one (all of them when none is
   * complete): a run stopped to be placed again (a migration) resumes from that cut under the
   * same attempt, and its next cuts must not meet shares its previous run left half done.
   */
  dropIncompleteCuts (id: string, size: number): void {
    this.begin()
    this.drain()
    this.inBatch()
    const done = this.q.completeCut.get(id, size) as { attempt: number, cut: number } | undefined
    if (done === undefined) this.q.clearCuts.run(id)
    else this.q.dropNewerCuts.run(id, done.attempt, done.attempt, done.cut)
  }

  /** Every share of one cut (attempt, cut), complete or not. */
  cutShares (id: string, attempt: number, cut: number): CheckpointRecord[] {
    this.drain()
    return this.q.cutRows.all(id, attempt, cut) as CheckpointRecord[]
  }

  /**
   * A job restarted at another size (a resize): its size, request and placement change and, with
   * `from`, a new attempt begins (its cuts apart from the old ones) and every cut except `from`,
   * the one it resumes from, is dropped, so no share of the old layout can pass for a cut of the
   * new. Without `from` (a rerun from the start at its first size) every cut is dropped.
   */
  reshape (id: string, r: { size: number, request: JobRequest, placement: string[] | null, from?: { attempt: number, cut: number }, detail?: string }): Job {
    this.begin()
    const prev = this.mustGet(id)
    const now = this.now()
    const next: Job = { ...prev, size: r.size, request: r.request, placement: r.placement, restarts: prev.restarts + (r.from === undefined ? 0 : 1), updatedAt: now }
    this.drain()
    this.inBatch()
    if (r.from === undefined) this.q.clearCuts.run(id)
    else this.q.dropCutsExcept.run(id, r.from.attempt, r.from.cut)
    this.deferred.push(() => {
      this.q.reshape.run({ id, size: r.size, request: JSON.stringify(r.request), placement: col(r.placement), restarts: next.restarts, now })
      if (r.detail !== undefined) this.q.insertEvent.run(id, now, prev.state, next.state, r.detail)
    })
    this.setLive(next)
    return next
  }

  /** Every rank's share of the newest complete cut (seq = the cut number), or [] when there is none. */
  lastCut (id: string, size: number): CheckpointRecord[] {
    this.drain()
    const done = this.q.completeCut.get(id, size) as { attempt: number, cut: number } | undefined
    return done === undefined ? [] : this.q.cutRows.all(id, done.attempt, done.cut) as CheckpointRecord[]
  }

  /** A broker setting kept with the jobs (the policy applied at run time); undefined when never set. */
  setting (key: string): string | undefined {
    this.drain()
    return this.q.getSetting.get(key) as string | undefined
  }

  /** Stores (or with null, removes) a setting, committed before it returns. */
  putSetting (key: string, value: string | null): void {
    this.begin()
    this.drain()
    this.inBatch()
    if (value === null) this.q.deleteSetting.run(key)
    else this.q.putSetting.run(key, value, this.now())
    this.commit()
  }

  bundle (sha256: string): Uint8Array | undefined {
    const b = this.q.getBundle.get(sha256) as Buffer | undefined
    return b === undefined ? undefined : new Uint8Array(b)
  }

  /** Opens the batch this turn's changes join; it commits on the next turn. SQLite's BEGIN waits for the first statement. */
  private begin (): void {
    if (this.batchOpen) return
    this.batchOpen = true
    setImmediate(() => { this.commit() })
  }

  /** Starts the batch's SQLite transaction if a statement is about to write in it. */
  private inBatch (): void {
    if (this.batchOpen && !this.db.inTransaction) this.db.exec('BEGIN')
  }

  private commit (): void {
    if (!this.batchOpen || !this.db.open) return
    this.batchOpen = false
    const waiters = this.waiters.splice(0)
    try {
      this.drain()
      if (this.db.inTransaction) this.db.exec('COMMIT')
    } catch (err) {
      this.deferred.length = 0
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      // what was in memory is no longer what is stored: start again from the record
      this.loadLive()
      this.onCommitError(err)
      for (const w of waiters) w.reject(err)
      return
    }
    for (const w of waiters) w.resolve()
  }

  /** Runs the deferred writes now (inside the open batch), before a statement that must see them. */
  private drain (): void {
    if (this.deferred.length === 0) return
    const writes = this.deferred.splice(0)
    this.inBatch()
    this.db.transaction(() => { for (const w of writes) w() })()
  }

  private fromDb (id: string): Job | undefined {
    this.drain()
    const row = this.q.get.get(id) as JobRow | undefined
    if (row === undefined) return undefined
    const job = toJob(row)
    if (row.is_array === 1) job.childIds = this.q.children.all(id) as string[]
    return job
  }

  private setLive (job: Job): void {
    this.touched?.add(job.id)
    // a requeued terminal job is live again
    if (!isTerminal(job.state)) { this.live.set(job.id, job); this.ended.delete(job.id); return }
    this.live.delete(job.id)
    this.ended.set(job.id, job)
    if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.keys().next().value!)
  }

  private reload (id: string): void {
    this.live.delete(id)
    this.ended.delete(id)
    this.counts.delete(id)
    const job = this.fromDb(id)
    if (job === undefined || isTerminal(job.state)) return
    this.live.set(id, job)
    if (job.state === 'queued' && job.childIds === undefined) this.queue.push(job)
    if (job.parentId !== null) this.counts.delete(job.parentId)
  }

  private loadLive (): void {
    this.deferred.length = 0
    this.live.clear()
    this.ended.clear()
    this.counts.clear()
    this.queue.clear()
    for (const row of this.q.notTerminal.all() as JobRow[]) {
      const job = toJob(row)
      if (row.is_array === 1) job.childIds = this.q.children.all(row.id) as string[]
      this.live.set(job.id, job)
      if (job.state === 'queued' && job.childIds === undefined) this.queue.push(job)
    }
  }
}

function bucket (s: JobState): 'queued' | 'active' | 'succeeded' | 'failed' | 'cancelled' {
  // a held child is neither waiting for a slot nor done: the parent shows running until it is released or cancelled
  return s === 'scheduled' || s === 'running' || s === 'held' ? 'active' : s
}

function faultCols (j: Job): { node_deaths: number, failure_streak: number, last_failure: string | null } {
  return { node_deaths: j.nodeDeaths ?? 0, failure_streak: j.failureStreak ?? 0, last_failure: j.lastFailure ?? null }
}

/** The counts after one child moved from `from` to `to` (a new object: the old stays valid until commit). */
function moved (c: ChildCounts, from: JobState, to: JobState): ChildCounts {
  const out = { ...c }
  out[bucket(from)]--
  out[bucket(to)]++
  return out
}

/** A JSON column; null and undefined are SQL NULL. */
function col (v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v)
}

function dependenciesOfRequest (r: JobRequest): Dependency[] {
  return Array.isArray(r.dependsOn) ? r.dependsOn : []
}
