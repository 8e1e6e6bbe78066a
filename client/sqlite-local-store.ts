import Database from 'better-sqlite3';
import { syncMetadataResponseSchema, type SyncMetadataResponse } from '../shared/sync/sync-protocol';
import type {
  LocalStore,
  LocalStoreTransaction,
  LocalSyncError,
  LocalSyncState,
  RowData,
} from './local-store';
import {
  outboxParams,
  outboxUpdateParams,
  querySql,
  rowParams,
  rowSql,
  rowTableOf,
  rowTableSql,
  STORE_SCHEMA_SQL,
  STORE_SQL,
  toLocalRow,
  toOutboxEntry,
  type OutboxRecord,
  type RowRecord,
} from './sqlite-schema';

/** The shipped `LocalStore`: one SQLite file, a table of JSON rows per entity. */
export interface SqliteLocalStore extends LocalStore {
  /** The open database, for the app's own queries (e.g. `json_extract(data, '$.name')`). */
  readonly database: Database.Database;
  /** The table holding an entity's rows (`id`, `version`, `data` JSON, `server_data`, `pending`). */
  tableOf(entity: string): string;
}

/** Options of {@link createSqliteLocalStore}. */
export interface SqliteLocalStoreOptions {
  /**
   * Columns to index per entity, e.g. `{ account: ['name', 'ownerid'] }`: an expression index on
   * `json_extract(data, '$.name')` that `table().where(...)` conditions on the column use.
   */
  indexes?: Record<string, readonly string[]>;
}

/** A table's row statements, prepared once: a download page runs thousands of them. */
interface RowStatements {
  get: Database.Statement;
  put: Database.Statement;
  del: Database.Statement;
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
  db.exec(STORE_SCHEMA_SQL);

  const tableOf = rowTableOf;
  const knownTables = new Set<string>();
  const ensureTable = (entity: string): string => {
    const table = tableOf(entity);
    if (!knownTables.has(table)) {
      db.exec(rowTableSql(table, options.indexes?.[entity]));
      knownTables.add(table);
    }
    return table;
  };
  const statements = new Map<string, RowStatements>();
  const rowStatements = (entity: string): RowStatements => {
    const table = ensureTable(entity);
    let s = statements.get(table);
    if (!s) {
      const sql = rowSql(table);
      s = { get: db.prepare(sql.get), put: db.prepare(sql.put), del: db.prepare(sql.del) };
      statements.set(table, s);
    }
    return s;
  };
  const getState = db.prepare<[string], { value: string }>(STORE_SQL.getState);
  const putState = db.prepare(STORE_SQL.putState);
  const deleteState = db.prepare(STORE_SQL.deleteState);
  const outboxAll = db.prepare<[number], OutboxRecord>(STORE_SQL.outboxAll);
  const outboxByRow = db.prepare<[string, string], OutboxRecord>(STORE_SQL.outboxByRow);
  const insertOutbox = db.prepare(STORE_SQL.insertOutbox);
  const updateOutbox = db.prepare(STORE_SQL.updateOutbox);
  const deleteOutbox = db.prepare(STORE_SQL.deleteOutbox);
  const putError = db.prepare(STORE_SQL.putError);
  const listErrors = db.prepare<[], { body: string }>(STORE_SQL.listErrors);
  const deleteError = db.prepare(STORE_SQL.deleteError);

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
      rowStatements(row.entity).put.run(...rowParams(row));
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
        .prepare<[], RowRecord>(rowSql(table).list)
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
      const info = insertOutbox.run(...outboxParams(entry));
      return { ...entry, seq: Number(info.lastInsertRowid) };
    },
    async updateOutbox(entry) {
      updateOutbox.run(...outboxUpdateParams(entry));
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
        // Tables the transaction created are gone with it: create them again when next needed.
        knownTables.clear();
        statements.clear();
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
