import Database from 'better-sqlite3';
import { AppError } from '../../errors';

/** How long a writer waits for another connection's write lock before giving up (ms). */
const BUSY_TIMEOUT_MS = 5_000;

/** Documents keyed by (kind, id); every database (control and tenant) has this table. */
const DOCS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    id TEXT NOT NULL,
    value TEXT NOT NULL,
    etag TEXT NOT NULL,
    PRIMARY KEY (kind, id)
  ) WITHOUT ROWID;`;

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
  return openSqliteFile(path, kind === 'tenant' ? DOCS_SCHEMA + RECORDS_SCHEMA : DOCS_SCHEMA, options);
}

/**
 * Opens a SQLite file as every connection of this product does (busy timeout, WAL, NORMAL
 * synchronous) and runs `schema` (idempotent DDL) in one immediate transaction. Failures are
 * better-sqlite3's own; the file is closed again when setting it up fails.
 */
export function openSqliteFile(
  path: string,
  schema: string,
  options: { mustExist: boolean },
): Database.Database {
  const db = new Database(path, { fileMustExist: options.mustExist, timeout: BUSY_TIMEOUT_MS });
  try {
    // busy_timeout first: switching to WAL needs a lock another connection may hold.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // NORMAL is durable in WAL mode except for the last transactions before a power loss.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = OFF');
    // IMMEDIATE: two connections creating the same database at once serialize instead of failing.
    db.transaction(() => db.exec(schema)).immediate();
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
