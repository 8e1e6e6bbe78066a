import Database from 'better-sqlite3';
import { syncMetadataResponseSchema, type SyncMetadataResponse } from '../shared/sync/sync-protocol';
import type {
  LocalRow,
  LocalStore,
  LocalStoreTransaction,
  LocalSyncError,
  LocalSyncState,
  OutboxEntry,
  RowData,
} from './local-store';
import { operatorsOf, type CheckedRowQuery, type ColumnCondition, type Scalar } from './query';

/** The shipped `LocalStore`: one SQLite file, a table of JSON rows per entity. */
export interface SqliteLocalStore extends LocalStore {
  /** The open database, for the app's own queries (e.g. `json_extract(data, '$.name')`). */
  readonly database: Database.Database;
  /** The table holding an entity's rows (`id`, `version`, `data` JSON, `server_data`, `pending`). */
  tableOf(entity: string): string;
}

const ENTITY_NAME = /^[a-z][a-z0-9_]{0,99}$/;
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Options of {@link createSqliteLocalStore}. */
export interface SqliteLocalStoreOptions {
  /**
   * Columns to index per entity, e.g. `{ account: ['name', 'ownerid'] }`: an expression index on
   * `json_extract(data, '$.name')` that `table().where(...)` conditions on the column use.
   */
  indexes?: Record<string, readonly string[]>;
}

/** SQL of a query, as `evaluateQuery` (query.ts) defines its meaning; values bound, names checked. */
function querySql(table: string, query: CheckedRowQuery): { sql: string; params: (string | number)[] } {
  const params: (string | number)[] = [];
  const path = (column: string): string => {
    if (!COLUMN_NAME.test(column)) throw new Error(`Not a column name: '${column}'.`);
    return `'$.${column}'`;
  };
  const type = (p: string): string => `json_type(data, ${p})`;
  const value = (p: string): string => `json_extract(data, ${p})`;
  const kind = (p: string, operand: Scalar): string => {
    if (operand === null) return `(${type(p)} IS NULL OR ${type(p)} = 'null')`;
    if (typeof operand === 'boolean') return `${type(p)} IN ('true', 'false')`;
    if (typeof operand === 'number') return `${type(p)} IN ('integer', 'real')`;
    return `${type(p)} = 'text'`;
  };
  const bind = (operand: string | number | boolean): string => {
    params.push(typeof operand === 'boolean' ? (operand ? 1 : 0) : operand);
    return '?';
  };
  // Positive conditions are top-level AND terms (a NULL term excludes the row as false would), so
  // an expression index on json_extract(data, '$.column') serves them; only `ne` needs COALESCE.
  const equals = (p: string, operand: Scalar): string =>
    operand === null ? kind(p, null) : `(${kind(p, operand)} AND ${value(p)} = ${bind(operand)})`;
  const conditions: string[] = ['data IS NOT NULL'];
  for (const [column, condition] of Object.entries(query.where ?? {})) {
    const p = path(column);
    const ops: ColumnCondition = operatorsOf(condition);
    if (ops.eq !== undefined) conditions.push(equals(p, ops.eq));
    if (ops.ne !== undefined) conditions.push(`NOT COALESCE(${equals(p, ops.ne)}, 0)`);
    for (const [op, sql] of [
      ['gt', '>'],
      ['gte', '>='],
      ['lt', '<'],
      ['lte', '<='],
    ] as const) {
      const operand = ops[op];
      if (operand !== undefined) conditions.push(kind(p, operand), `${value(p)} ${sql} ${bind(operand)}`);
    }
    if (ops.in !== undefined)
      conditions.push(
        ops.in.length === 0 ? '0' : `(${ops.in.map((operand) => equals(p, operand)).join(' OR ')})`,
      );
  }
  const order: string[] = [];
  for (const { column, direction } of query.orderBy ?? []) {
    const p = path(column);
    const dir = direction === 'desc' ? 'DESC' : 'ASC';
    // Absent and null first, then booleans and numbers, then text, then JSON objects and arrays.
    order.push(
      `CASE WHEN ${type(p)} IS NULL OR ${type(p)} = 'null' THEN 0 WHEN ${type(p)} IN ('true', 'false', 'integer', 'real') THEN 1 WHEN ${type(p)} = 'text' THEN 2 ELSE 3 END ${dir}`,
      `${value(p)} ${dir}`,
    );
  }
  order.push('id');
  let sql = `SELECT data FROM "${table}" WHERE ${conditions.join(' AND ')} ORDER BY ${order.join(', ')}`;
  if (query.limit !== undefined || query.offset !== undefined) {
    sql += ` LIMIT ${bind(query.limit ?? -1)} OFFSET ${bind(query.offset ?? 0)}`;
  }
  return { sql, params };
}

interface RowRecord {
  id: string;
  version: string | null;
  data: string | null;
  server_data: string | null;
  pending: number;
}

/** A table's row statements, prepared once: a download page runs thousands of them. */
interface RowStatements {
  get: Database.Statement;
  put: Database.Statement;
  del: Database.Statement;
}

interface OutboxRecord {
  seq: number;
  op_id: string;
  entity: string;
  record_id: string;
  op: string;
  row: string | null;
  base_version: string | null;
  after_op_id: string | null;
  created_at: string;
}

function parseJson(text: string | null): RowData | null {
  return text === null ? null : (JSON.parse(text) as RowData | null);
}

function toOutboxEntry(r: OutboxRecord): OutboxEntry {
  const row = parseJson(r.row);
  return {
    opId: r.op_id,
    seq: r.seq,
    entity: r.entity,
    id: r.record_id,
    op: r.op as OutboxEntry['op'],
    ...(row === null ? {} : { row }),
    ...(r.base_version === null ? {} : { baseVersion: r.base_version }),
    ...(r.after_op_id === null ? {} : { afterOpId: r.after_op_id }),
    createdAt: r.created_at,
  };
}

/**
 * Opens (or creates) a device database on better-sqlite3 in WAL mode: `sync_state` (metadata and
 * checkpoint), `outbox`, `sync_errors`, and a `rows_<entity>` table per entity of the metadata with
 * the row id as primary key. Transactions run one at a time (`BEGIN IMMEDIATE` … `COMMIT`).
 */
export function createSqliteLocalStore(
  path: string,
  options: SqliteLocalStoreOptions = {},
): SqliteLocalStore {
  const db = new Database(path);
  // 8 KiB pages for a new file (an existing one keeps its own): ~650-byte JSON rows fit ten to a
  // page, and a 10,000-row download measured about a third faster than on 4 KiB pages.
  db.pragma('page_size = 8192');
  // WAL and NORMAL: a commit appends to the log without waiting for the disk; a crash may lose the
  // last commits but never tears one, so rows and their checkpoint still go back together.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Checkpoint the log into the file every 4,000 pages (32 MiB) rather than SQLite's 1,000: a
  // 10,000-row initial download (about 7 MiB) then commits without copying its pages twice, which
  // measured 70 instead of 100 ms of SQLite time; closing the database checkpoints what is left.
  db.pragma('wal_autocheckpoint = 4000');
  db.exec(`
    CREATE TABLE IF NOT EXISTS sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      op_id TEXT NOT NULL UNIQUE,
      entity TEXT NOT NULL,
      record_id TEXT NOT NULL,
      op TEXT NOT NULL,
      row TEXT,
      base_version TEXT,
      after_op_id TEXT,
      created_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS outbox_by_row ON outbox (entity, record_id, seq);
    CREATE TABLE IF NOT EXISTS sync_errors (id TEXT PRIMARY KEY, time TEXT NOT NULL, body TEXT NOT NULL);
  `);

  const tableOf = (entity: string): string => {
    if (!ENTITY_NAME.test(entity)) throw new Error(`Not an entity logical name: '${entity}'.`);
    return `rows_${entity}`;
  };
  const knownTables = new Set<string>();
  const ensureTable = (entity: string): string => {
    const table = tableOf(entity);
    if (!knownTables.has(table)) {
      // A rowid table (rows appended in insert order, the id in its own unique index) rather than
      // WITHOUT ROWID: SQLite advises rowid tables for rows this large (over 1/20 of a page), and it
      // writes about half as much when a download's ids do not come in key order.
      db.exec(`CREATE TABLE IF NOT EXISTS "${table}" (
        id TEXT PRIMARY KEY,
        version TEXT,
        data TEXT,
        server_data TEXT,
        pending INTEGER NOT NULL DEFAULT 0
      )`);
      for (const column of options.indexes?.[entity] ?? []) {
        if (!COLUMN_NAME.test(column)) throw new Error(`Not a column name: '${column}'.`);
        db.exec(
          `CREATE INDEX IF NOT EXISTS "${table}_by_${column}" ON "${table}" (json_extract(data, '$.${column}'))`,
        );
      }
      knownTables.add(table);
    }
    return table;
  };
  const statements = new Map<string, RowStatements>();
  const rowStatements = (entity: string): RowStatements => {
    const table = ensureTable(entity);
    let s = statements.get(table);
    if (!s) {
      s = {
        get: db.prepare(`SELECT id, version, data, server_data, pending FROM "${table}" WHERE id = ?`),
        put: db.prepare(
          `INSERT INTO "${table}" (id, version, data, server_data, pending) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET version = excluded.version, data = excluded.data,
             server_data = excluded.server_data, pending = excluded.pending`,
        ),
        del: db.prepare(`DELETE FROM "${table}" WHERE id = ?`),
      };
      statements.set(table, s);
    }
    return s;
  };
  const toLocalRow = (entity: string, r: RowRecord): LocalRow => ({
    entity,
    id: r.id,
    row: parseJson(r.data),
    ...(r.version === null ? {} : { version: r.version }),
    ...(r.pending === 1 ? { serverRow: parseJson(r.server_data) } : {}),
    pending: r.pending === 1,
  });

  const getState = db.prepare<[string], { value: string }>('SELECT value FROM sync_state WHERE key = ?');
  const putState = db.prepare(
    'INSERT INTO sync_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const deleteState = db.prepare('DELETE FROM sync_state WHERE key = ?');
  const outboxAll = db.prepare<[number], OutboxRecord>('SELECT * FROM outbox ORDER BY seq LIMIT ?');
  const outboxByRow = db.prepare<[string, string], OutboxRecord>(
    'SELECT * FROM outbox WHERE entity = ? AND record_id = ? ORDER BY seq',
  );
  const insertOutbox = db.prepare(
    `INSERT INTO outbox (op_id, entity, record_id, op, row, base_version, after_op_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const updateOutbox = db.prepare(
    'UPDATE outbox SET row = ?, base_version = ?, after_op_id = ? WHERE op_id = ?',
  );
  const deleteOutbox = db.prepare('DELETE FROM outbox WHERE op_id = ?');
  const putError = db.prepare(
    'INSERT INTO sync_errors (id, time, body) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET time = excluded.time, body = excluded.body',
  );
  const listErrors = db.prepare<[], { body: string }>('SELECT body FROM sync_errors ORDER BY time DESC, id');
  const deleteError = db.prepare('DELETE FROM sync_errors WHERE id = ?');

  const tx: LocalStoreTransaction = {
    async readState(): Promise<LocalSyncState> {
      const metadata = getState.get('metadata');
      const checkpoint = getState.get('checkpoint');
      return {
        ...(metadata ? { metadata: syncMetadataResponseSchema.parse(JSON.parse(metadata.value)) } : {}),
        ...(checkpoint ? { checkpoint: checkpoint.value } : {}),
      };
    },
    async saveCheckpoint(checkpoint) {
      if (checkpoint === undefined) deleteState.run('checkpoint');
      else putState.run('checkpoint', checkpoint);
    },
    async saveMetadata(metadata: SyncMetadataResponse) {
      for (const entity of metadata.entities) ensureTable(entity.logicalName);
      putState.run('metadata', JSON.stringify(metadata));
    },
    async getRow(entity, id) {
      const r = rowStatements(entity).get.get(id) as RowRecord | undefined;
      return r ? toLocalRow(entity, r) : undefined;
    },
    async putRow(row) {
      rowStatements(row.entity).put.run(
        row.id,
        row.version ?? null,
        row.row === null ? null : JSON.stringify(row.row),
        row.pending ? JSON.stringify(row.serverRow ?? null) : null,
        row.pending ? 1 : 0,
      );
    },
    async deleteRow(entity, id) {
      rowStatements(entity).del.run(id);
    },
    async applyServerChanges(changes) {
      // One synchronous loop over statements prepared once per table: no await per row. Pages hold
      // long runs of one entity, so the statements of the last entity are kept at hand.
      let entity: string | undefined;
      let s: RowStatements | undefined;
      for (const change of changes) {
        if (change.entity !== entity || s === undefined) {
          entity = change.entity;
          s = rowStatements(entity);
        }
        if (change.op === 'remove') s.del.run(change.id);
        else s.put.run(change.id, change.version, JSON.stringify(change.row ?? {}), null, 0);
      }
    },
    async queryRows(query) {
      const { sql, params } = querySql(ensureTable(query.entity), query);
      return db
        .prepare<(string | number)[], { data: string }>(sql)
        .all(...params)
        .map((r) => JSON.parse(r.data) as RowData);
    },
    async listRows(entity) {
      const table = ensureTable(entity);
      return db
        .prepare<[], RowRecord>(`SELECT id, version, data, server_data, pending FROM "${table}" ORDER BY id`)
        .all()
        .map((r) => toLocalRow(entity, r));
    },
    async listOutbox(limit) {
      return outboxAll.all(limit ?? -1).map(toOutboxEntry);
    },
    async outboxOf(entity, id) {
      return outboxByRow.all(entity, id).map(toOutboxEntry);
    },
    async addOutbox(entry) {
      const info = insertOutbox.run(
        entry.opId,
        entry.entity,
        entry.id,
        entry.op,
        entry.row === undefined ? null : JSON.stringify(entry.row),
        entry.baseVersion ?? null,
        entry.afterOpId ?? null,
        entry.createdAt,
      );
      return { ...entry, seq: Number(info.lastInsertRowid) };
    },
    async updateOutbox(entry) {
      updateOutbox.run(
        entry.row === undefined ? null : JSON.stringify(entry.row),
        entry.baseVersion ?? null,
        entry.afterOpId ?? null,
        entry.opId,
      );
    },
    async deleteOutbox(opId) {
      deleteOutbox.run(opId);
    },
    async putSyncError(error: LocalSyncError) {
      putError.run(error.id, error.time, JSON.stringify(error));
    },
    async listSyncErrors() {
      return listErrors.all().map((r) => JSON.parse(r.body) as LocalSyncError);
    },
    async deleteSyncError(id) {
      deleteError.run(id);
    },
  };

  // One connection: transactions are queued so two never interleave their statements.
  let queue: Promise<unknown> = Promise.resolve();
  const transaction = <T>(work: (t: LocalStoreTransaction) => Promise<T>): Promise<T> => {
    const run = async (): Promise<T> => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(tx);
        db.exec('COMMIT');
        return result;
      } catch (error) {
        if (db.inTransaction) db.exec('ROLLBACK');
        throw error;
      }
    };
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    database: db,
    tableOf,
    transaction,
    async close() {
      await queue;
      db.close();
    },
  };
}
