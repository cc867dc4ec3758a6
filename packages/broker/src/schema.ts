import type { Database } from 'better-sqlite3'
import { UnsupportedVersionError } from '@mvm/core'

/**
 * Migrations by `PRAGMA user_version`: entry i moves the schema from version i to i + 1.
 * Append only; never edit a shipped entry, because existing databases already ran it.
 */
const migrations: string[] = [
  `CREATE TABLE bundles (
     sha256 TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     data BLOB NOT NULL,
     created_at INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE jobs (
     id TEXT PRIMARY KEY,
     parent_id TEXT REFERENCES jobs(id),
     is_array INTEGER NOT NULL DEFAULT 0,
     name TEXT NOT NULL,
     owner TEXT,
     state TEXT NOT NULL,
     priority INTEGER NOT NULL,
     seq INTEGER NOT NULL UNIQUE,
     size INTEGER NOT NULL,
     request TEXT NOT NULL,
     placement TEXT,
     reason TEXT,
     result TEXT,
     restarts INTEGER NOT NULL DEFAULT 0,
     bundle_sha TEXT REFERENCES bundles(sha256),
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     started_at INTEGER,
     ended_at INTEGER
   ) STRICT;
   CREATE INDEX jobs_queue ON jobs(state, priority DESC, seq);
   CREATE INDEX jobs_parent ON jobs(parent_id) WHERE parent_id IS NOT NULL;
   CREATE TABLE job_events (
     id INTEGER PRIMARY KEY,
     job_id TEXT NOT NULL REFERENCES jobs(id),
     at INTEGER NOT NULL,
     from_state TEXT,
     to_state TEXT NOT NULL,
     detail TEXT
   ) STRICT;
   CREATE INDEX job_events_job ON job_events(job_id, id);
   CREATE TABLE rank_results (
     job_id TEXT NOT NULL REFERENCES jobs(id),
     rank INTEGER NOT NULL,
     exit_code INTEGER NOT NULL,
     output TEXT,
     error TEXT,
     peer_id TEXT,
     at INTEGER NOT NULL,
     PRIMARY KEY (job_id, rank)
   ) STRICT, WITHOUT ROWID;`,
  // 2: when each rank ran, as the node measured it (GetJobResult reports it per rank)
  `ALTER TABLE rank_results ADD COLUMN started_at INTEGER;
   ALTER TABLE rank_results ADD COLUMN finished_at INTEGER;`,
  // 3: each rank's latest checkpoint, so a job restarted on other nodes resumes from it
  // (ordered by attempt, then the rank's save counter: a late older save never wins)
  `CREATE TABLE checkpoints (
     job_id TEXT NOT NULL REFERENCES jobs(id),
     rank INTEGER NOT NULL,
     attempt INTEGER NOT NULL,
     seq INTEGER NOT NULL,
     state TEXT NOT NULL,
     peer_id TEXT,
     at INTEGER NOT NULL,
     PRIMARY KEY (job_id, rank)
   ) STRICT, WITHOUT ROWID;`,
  // 4: poison-job accounting (node deaths during its runs, the same failure in a row), so a
  // job is held rather than walked across the group, also across broker restarts; and the
  // policy applied at run time, so a restarted broker runs under it again
  `ALTER TABLE jobs ADD COLUMN node_deaths INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN failure_streak INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE jobs ADD COLUMN last_failure TEXT;
   CREATE TABLE settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL,
     updated_at INTEGER NOT NULL
   ) STRICT;`,
  // 5: job dependencies (dependsOn), by the job that waits and by the job waited on, so the
  // jobs a finished job releases (or cancels) are found without scanning the queue; names are
  // indexed because a dependency may name its job by name
  `CREATE TABLE job_deps (
     job_id TEXT NOT NULL REFERENCES jobs(id),
     dep_id TEXT NOT NULL REFERENCES jobs(id),
     type TEXT NOT NULL CHECK (type IN ('afterok', 'afterany', 'afternotok')),
     PRIMARY KEY (job_id, dep_id, type)
   ) STRICT, WITHOUT ROWID;
   CREATE INDEX job_deps_dep ON job_deps(dep_id);
   CREATE INDEX jobs_name ON jobs(name, seq);`,
  // 6: accounting per rank (like sacct: CPU time, peak RSS, how it ended), and the finished-jobs
  // index `mvm history` and retention pruning read by end time
  `ALTER TABLE rank_results ADD COLUMN cpu_sec REAL;
   ALTER TABLE rank_results ADD COLUMN max_rss_mb REAL;
   ALTER TABLE rank_results ADD COLUMN exit_reason TEXT;
   CREATE INDEX jobs_ended ON jobs(ended_at) WHERE ended_at IS NOT NULL;`,
  // 7: the files a rank's outputs were stored as (JSON [{ name, id, size }], content ids)
  'ALTER TABLE rank_results ADD COLUMN outputs TEXT;',
  // 8: coordinated checkpoints: every rank's share of each cut (state and channel state), by
  // attempt and cut number; a restart reads the newest cut every rank has stored
  `CREATE TABLE cuts (
     job_id TEXT NOT NULL REFERENCES jobs(id),
     attempt INTEGER NOT NULL,
     cut INTEGER NOT NULL,
     rank INTEGER NOT NULL,
     state TEXT NOT NULL,
     peer_id TEXT,
     at INTEGER NOT NULL,
     PRIMARY KEY (job_id, attempt, cut, rank)
   ) STRICT, WITHOUT ROWID;`
]

export const schemaVersion = migrations.length

/** Brings the database to the current schema, one transaction per step. */
export function migrate (db: Database, file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > schemaVersion) {
    throw new UnsupportedVersionError(`${file}: job store schema version ${current} is newer than this broker supports (${schemaVersion})`)
  }
  for (let v = current; v < schemaVersion; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
}
