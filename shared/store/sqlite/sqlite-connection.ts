import Database from 'better-sqlite3';
import { AppError } from '../../errors';
import { registerRecordKeyFunctions } from './sqlite-record-keys';

/** How long a writer waits for another connection's write lock before giving up (ms). */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Documents keyed by (kind, id); every database (control and tenant) has this table. A rowid table:
 * documents run from a few bytes to megabytes (held sets, plans), and SQLite advises against WITHOUT
 * ROWID for rows over a twentieth of a page. As one it was, a point read cost 15-45 µs and a write
 * 70-85 µs on a bench tenant (its B-tree pages held four rows each); as a rowid table, 4 µs and
 * 19-24 µs. The etag comes before the value, so reading it (`getDocIfChanged`, `listDocEtags`)
 * stops before the value's overflow pages.
 */
const DOCS_TABLE = (name: string): string => `
  CREATE TABLE IF NOT EXISTS ${name} (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    etag TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, id)
  );`;
const DOCS_SCHEMA = DOCS_TABLE('docs');

/**
 * Rebuilds a `docs` table of earlier versions (WITHOUT ROWID, value before etag) as the rowid table
 * of {@link DOCS_SCHEMA}, keeping every document and etag. Runs inside the opening transaction, which
 * is IMMEDIATE: a second connection opening the file at once waits, then finds the new table.
 */
function migrateDocsTable(db: Database.Database): void {
  const table = db
    .prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'docs'")
    .get();
  if (table === undefined || !/WITHOUT\s+ROWID/i.test(table.sql)) return;
  db.exec(`DROP TABLE IF EXISTS docs_rowid; ${DOCS_TABLE('docs_rowid')}
    INSERT INTO docs_rowid (kind, id, etag, value) SELECT kind, id, etag, value FROM docs;
    DROP TABLE docs;
    ALTER TABLE docs_rowid RENAME TO docs;`);
}

/**
 * A tenant's rows: one per (entity, id), the latest state. `seq` is the row's position in the
 * change sequence; it is unique, so its index serves both `readChanges` and `max(seq)`.
 */
const RECORDS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS records (
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    version TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    attributes TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (entity, id)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS records_by_seq ON records (seq);`;

/**
 * The change log: one entry per applied write under key `''` (every change of the entity) and one
 * per ownership key of the row before and after it (record-keys.ts `changeKeys`), written in the
 * row's transaction. Clustered by seq, so compaction deletes a prefix; `record_changes_by_scope`
 * serves a reader of one (entity, key) in seq order and covers what it reads. `at` (epoch ms) is
 * when the entry was written, for compaction.
 *
 * `record_change_horizon` holds the seq at or below which entries may be missing: raised by
 * compaction, and set to the head when the log is first created on a database that already has
 * rows (their changes were never logged). `INSERT OR IGNORE` sets it only that first time.
 */
const CHANGE_LOG_SCHEMA = `
  CREATE TABLE IF NOT EXISTS record_changes (
    seq INTEGER NOT NULL,
    key TEXT NOT NULL,
    entity TEXT NOT NULL,
    id TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (seq, key)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS record_changes_by_scope ON record_changes (entity, key, seq, id);
  CREATE TABLE IF NOT EXISTS record_change_horizon (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    seq INTEGER NOT NULL
  );
  INSERT OR IGNORE INTO record_change_horizon (singleton, seq) SELECT 1, coalesce(max(seq), 0) FROM records;`;

/**
 * Drops the look-up indexes of earlier versions (`lower(json_extract(…))`, named
 * `records_lookup_<hash>`): the key indexes replace them, and each one left would cost every write.
 */
function dropSupersededIndexes(db: Database.Database): void {
  const names = db
    .prepare<[], { name: string }>(
      `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'
         AND substr(name, 1, 15) = 'records_lookup_'`,
    )
    .all();
  for (const { name } of names) db.exec(`DROP INDEX IF EXISTS "${name}"`);
}

export type SqliteDatabaseKind = 'control' | 'tenant';

/**
 * Opens a database file with the settings every connection needs and makes sure its tables exist.
 * `mustExist` opens only a file that is already there (a tenant's database is created only by
 * `createTenantDatabase`; a lazy open must not bring a dropped tenant back).
 */
export function openSqliteDatabase(
  path: string,
  kind: SqliteDatabaseKind,
  options: { mustExist: boolean },
): Database.Database {
  if (kind === 'control') return openSqliteFile(path, DOCS_SCHEMA, { ...options, migrate: migrateDocsTable });
  return openSqliteFile(path, DOCS_SCHEMA + RECORDS_SCHEMA + CHANGE_LOG_SCHEMA, {
    ...options,
    // Before the schema: the key indexes call these functions on every write.
    prepare: registerRecordKeyFunctions,
    migrate: (db) => {
      migrateDocsTable(db);
      dropSupersededIndexes(db);
    },
  });
}

/**
 * Opens a SQLite file as every connection of this product does (busy timeout, WAL, NORMAL
 * synchronous), runs `prepare` (registering functions, say), then `schema` (idempotent DDL) and
 * `migrate` in one immediate transaction. Failures are better-sqlite3's own; the file is closed
 * again when setting it up fails.
 */
export function openSqliteFile(
  path: string,
  schema: string,
  options: {
    mustExist: boolean;
    prepare?: (db: Database.Database) => void;
    migrate?: (db: Database.Database) => void;
  },
): Database.Database {
  const db = new Database(path, { fileMustExist: options.mustExist, timeout: BUSY_TIMEOUT_MS });
  try {
    options.prepare?.(db);
    // busy_timeout first: switching to WAL needs a lock another connection may hold.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // NORMAL is durable in WAL mode except for the last transactions before a power loss.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
    // IMMEDIATE: two connections creating the same database at once serialize instead of failing.
    db.transaction(() => {
      db.exec(schema);
      options.migrate?.(db);
    }).immediate();
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/** SQLite result codes that mean another connection holds a lock: the caller may retry. */
const BUSY_CODES = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_RECOVERY', 'SQLITE_LOCKED']);

/**
 * Turns a better-sqlite3 failure into an {@link AppError}; AppErrors pass through unchanged. A lock
 * held by another connection is `Unavailable` (retry shortly), anything else `Internal`. `subject`
 * names the database in the message.
 */
export function translateSqliteError(error: unknown, subject = 'local store'): AppError {
  if (error instanceof AppError) return error;
  const code = error instanceof Database.SqliteError ? error.code : undefined;
  if (code !== undefined && BUSY_CODES.has(code)) {
    return new AppError('Unavailable', `The ${subject} is busy; retry shortly.`, {
      retryAfterSeconds: 1,
      cause: error,
    });
  }
  const failure = `${subject.charAt(0).toUpperCase()}${subject.slice(1)} failure`;
  return new AppError('Internal', `${failure}${code === undefined ? '' : ` (${code})`}.`, { cause: error });
}

/**
 * A per-connection cache: `make(db)` runs once per connection (to prepare its statements, say) and
 * its result is kept for as long as the connection lives.
 */
export function perConnection<T>(make: (db: Database.Database) => T): (db: Database.Database) => T {
  const cache = new WeakMap<Database.Database, T>();
  return (db) => {
    let value = cache.get(db);
    if (value === undefined) {
      value = make(db);
      cache.set(db, value);
    }
    return value;
  };
}
