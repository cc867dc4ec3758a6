import Database from 'better-sqlite3'
import type { FileEntry } from './types.js'

/** A file as the index holds it (the manifest bytes are kept so the id can be served). */
export interface FileRow {
  id: string
  name: string
  size: number
  manifest: Uint8Array
  stored_bytes: number
  hits: number
  created_at: number
  last_used_at: number
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS files (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, size INTEGER NOT NULL, manifest BLOB NOT NULL,
  stored_bytes INTEGER NOT NULL, hits INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL, last_used_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS files_lru ON files (last_used_at);
-- the distinct non-zero chunks of each file
CREATE TABLE IF NOT EXISTS file_chunks (file_id TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (file_id, hash)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_chunks_hash ON file_chunks (hash);
-- the chunks present on disk
CREATE TABLE IF NOT EXISTS chunks (hash TEXT PRIMARY KEY, size INTEGER NOT NULL, last_used_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pins (file_id TEXT NOT NULL, holder TEXT NOT NULL, PRIMARY KEY (file_id, holder)) WITHOUT ROWID;
`

/** All statements, prepared once. */
function prepare (db: Database.Database) {
  const p = (sql: string): Database.Statement => db.prepare(sql)
  return {
    file: p('SELECT * FROM files WHERE id = ?'),
    files: p('SELECT * FROM files ORDER BY created_at, id'),
    insertFile: p('INSERT INTO files (id, name, size, manifest, stored_bytes, hits, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO UPDATE SET last_used_at = excluded.last_used_at, name = CASE WHEN excluded.name = \'\' THEN files.name ELSE excluded.name END'),
    insertRef: p('INSERT OR IGNORE INTO file_chunks (file_id, hash) VALUES (?, ?)'),
    deleteFile: p('DELETE FROM files WHERE id = ?'),
    deleteRefs: p('DELETE FROM file_chunks WHERE file_id = ?'),
    deletePins: p('DELETE FROM pins WHERE file_id = ?'),
    hit: p('UPDATE files SET hits = hits + 1, last_used_at = ? WHERE id = ?'),
    chunk: p('SELECT size FROM chunks WHERE hash = ?'),
    insertChunk: p('INSERT OR REPLACE INTO chunks (hash, size, last_used_at) VALUES (?, ?, ?)'),
    deleteChunk: p('DELETE FROM chunks WHERE hash = ?'),
    touchChunk: p('UPDATE chunks SET last_used_at = ? WHERE hash = ?'),
    totals: p('SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS bytes FROM chunks'),
    fileCount: p('SELECT COUNT(*) AS n FROM files'),
    refs: p('SELECT hash FROM file_chunks WHERE file_id = ?'),
    missing: p('SELECT r.hash FROM file_chunks r LEFT JOIN chunks c ON c.hash = r.hash WHERE r.file_id = ? AND c.hash IS NULL'),
    pins: p('SELECT holder FROM pins WHERE file_id = ? ORDER BY holder'),
    pin: p('INSERT OR IGNORE INTO pins (file_id, holder) VALUES (?, ?)'),
    unpin: p('DELETE FROM pins WHERE file_id = ? AND holder = ?'),
    // unpinned files not referring to `hash`, least recently used first
    victims: p('SELECT id FROM files f WHERE NOT EXISTS (SELECT 1 FROM pins p WHERE p.file_id = f.id) AND NOT EXISTS (SELECT 1 FROM file_chunks r WHERE r.file_id = f.id AND r.hash = ?) ORDER BY last_used_at, created_at LIMIT 16'),
    // chunks of a file that no other file refers to
    exclusive: p('SELECT r.hash, c.size FROM file_chunks r JOIN chunks c ON c.hash = r.hash WHERE r.file_id = ? AND NOT EXISTS (SELECT 1 FROM file_chunks o WHERE o.hash = r.hash AND o.file_id <> r.file_id)'),
    // present chunks no file refers to, put before a time, oldest first
    orphans: p('SELECT c.hash, c.size FROM chunks c WHERE c.last_used_at < ? AND NOT EXISTS (SELECT 1 FROM file_chunks r WHERE r.hash = c.hash) ORDER BY c.last_used_at LIMIT ?')
  }
}

type Statements = ReturnType<typeof prepare>

/**
 * The store's SQLite index (`index.db`, WAL): files, their chunk references, the chunks on
 * disk, pins, hits and last use. Synchronous (better-sqlite3); every method is one statement
 * or one transaction.
 */
export class StoreIndex {
  private readonly db: Database.Database
  private readonly q: Statements

  constructor (file: string) {
    this.db = new Database(file)
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    this.db.exec(SCHEMA)
    this.q = prepare(this.db)
  }

  getFile (id: string): FileRow | undefined { return this.q.file.get(id) as FileRow | undefined }
  allFiles (): FileRow[] { return this.q.files.all() as FileRow[] }
  pinsOf (id: string): string[] { return (this.q.pins.all(id) as Array<{ holder: string }>).map((r) => r.holder) }

  entry (row: FileRow): FileEntry {
    return { id: row.id, name: row.name, size: row.size, storedBytes: row.stored_bytes, hits: row.hits, pins: this.pinsOf(row.id), createdAt: row.created_at, lastUsedAt: row.last_used_at }
  }

  /** Adds (or refreshes) a file entry with its distinct non-zero chunk names. */
  putFile (f: { id: string, name: string, size: number, manifest: Uint8Array, storedBytes: number, hashes: Iterable<string>, pin?: string | undefined }, now: number): void {
    this.db.transaction(() => {
      this.q.insertFile.run(f.id, f.name, f.size, f.manifest, f.storedBytes, now, now)
      for (const h of f.hashes) this.q.insertRef.run(f.id, h)
      if (f.pin !== undefined) this.q.pin.run(f.id, f.pin)
    })()
  }

  deleteFile (id: string): boolean {
    return this.db.transaction(() => {
      this.q.deleteRefs.run(id)
      this.q.deletePins.run(id)
      return this.q.deleteFile.run(id).changes > 0
    })()
  }

  hit (id: string, now: number): boolean { return this.q.hit.run(now, id).changes > 0 }
  pin (id: string, holder: string): void { this.q.pin.run(id, holder) }
  unpin (id: string, holder: string): void { this.q.unpin.run(id, holder) }

  chunkSize (hash: string): number | undefined { return (this.q.chunk.get(hash) as { size: number } | undefined)?.size }
  addChunk (hash: string, size: number, now: number): void { this.q.insertChunk.run(hash, size, now) }
  deleteChunk (hash: string): boolean { return this.q.deleteChunk.run(hash).changes > 0 }
  touchChunk (hash: string, now: number): void { this.q.touchChunk.run(now, hash) }

  totals (): { chunks: number, bytes: number, files: number } {
    const t = this.q.totals.get() as { n: number, bytes: number }
    return { chunks: t.n, bytes: t.bytes, files: (this.q.fileCount.get() as { n: number }).n }
  }

  missing (id: string): string[] { return (this.q.missing.all(id) as Array<{ hash: string }>).map((r) => r.hash) }
  refs (id: string): string[] { return (this.q.refs.all(id) as Array<{ hash: string }>).map((r) => r.hash) }

  /** Up to 16 eviction candidates: unpinned files, least recently used first, not needing `hash`. */
  victims (hash: string): string[] { return (this.q.victims.all(hash) as Array<{ id: string }>).map((r) => r.id) }
  /** The file's present chunks that no other file refers to (what evicting it frees). */
  exclusiveChunks (id: string): Array<{ hash: string, size: number }> { return this.q.exclusive.all(id) as Array<{ hash: string, size: number }> }
  /** Present chunks that no file refers to, last used before `before`, oldest first. */
  orphans (before: number, limit: number): Array<{ hash: string, size: number }> { return this.q.orphans.all(before, limit) as Array<{ hash: string, size: number }> }
  hasChunk (hash: string): boolean { return this.q.chunk.get(hash) !== undefined }

  /** Runs `fn` in one transaction. */
  tx<T> (fn: () => T): T { return this.db.transaction(fn)() }

  close (): void { this.db.close() }
}
