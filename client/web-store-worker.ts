/**
 * The worker side of the browser store: one SQLite database in WebAssembly (`@sqlite.org/sqlite-wasm`)
 * on the origin private file system through the `opfs-sahpool` VFS, which needs neither
 * SharedArrayBuffer nor COOP/COEP headers, only a dedicated worker and a secure context. The tables
 * and statements are the better-sqlite3 store's (`sqlite-schema.ts`). Where OPFS is missing (an
 * insecure origin, an old browser) the database is opened in the worker's memory instead and `open`
 * says so (`persistence: 'memory'`, with the reason), unless the page asked for `requirePersistence`.
 *
 * The worker serves one store: `close` closes the database and releases the pool's OPFS access
 * handles (they are exclusive per origin), so the next store, in a new worker, can take them.
 */
import type { Database, PreparedStatement, SAHPoolUtil, Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import { syncMetadataResponseSchema } from '../shared/sync/sync-protocol';
import type { LocalSyncError, LocalSyncState, RowData } from './local-store';
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
import {
  webStoreRequestSchema,
  type WebStoreCall,
  type WebStoreOpened,
  type WebStoreRequest,
  type WebStoreResponse,
} from './web-store-protocol';

/** What the worker needs of its global scope (`self` in a dedicated worker). */
export interface WebStoreWorkerScope {
  postMessage(message: WebStoreResponse): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

export interface WebStoreWorkerOptions {
  /** Loads SQLite (`sqlite3InitModule` of `@sqlite.org/sqlite-wasm`). */
  loadSqlite(): Promise<Sqlite3Static>;
  /** Where the pool keeps its files in OPFS (default `.offline-sync`). */
  directory?: string;
}

type BindValue = string | number | null;

/** Why OPFS cannot be used here, or undefined when it can (checked before SQLite tries). */
export function missingOpfs(scope: unknown = globalThis): string | undefined {
  const g = scope as {
    isSecureContext?: boolean;
    navigator?: { storage?: { getDirectory?: unknown } };
    FileSystemFileHandle?: { prototype?: { createSyncAccessHandle?: unknown } };
  };
  if (g.isSecureContext === false) return 'not a secure context (OPFS needs https or localhost)';
  if (typeof g.navigator?.storage?.getDirectory !== 'function')
    return 'navigator.storage.getDirectory is missing';
  if (typeof g.FileSystemFileHandle?.prototype?.createSyncAccessHandle !== 'function')
    return 'FileSystemFileHandle.createSyncAccessHandle is missing (not a dedicated worker, or an old browser)';
  return undefined;
}

const POOL_ATTEMPTS = 40;
const POOL_RETRY_MS = 50;

/**
 * Installs the pool, waiting while another worker still holds its access handles: the worker of a
 * page being reloaded releases them only once it is gone. Fails with the browser's error when they
 * stay taken (another tab has the store open).
 */
async function installPool(sqlite3: Sqlite3Static, directory: string): Promise<SAHPoolUtil> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sqlite3.installOpfsSAHPoolVfs({
        directory,
        forceReinitIfPreviouslyFailed: true,
        preserveOnInitFailure: true,
      } as Parameters<Sqlite3Static['installOpfsSAHPoolVfs']>[0]);
    } catch (error) {
      const taken = error instanceof Error && error.name === 'NoModificationAllowedError';
      if (!taken || attempt >= POOL_ATTEMPTS) throw error;
      await new Promise<void>((resolve) => setTimeout(resolve, POOL_RETRY_MS));
    }
  }
}

/** Answers the page's requests (`web-store-protocol.ts`) on `scope`, one at a time, in order. */
export function serveWebLocalStore(scope: WebStoreWorkerScope, options: WebStoreWorkerOptions): void {
  let sqlite3: Sqlite3Static | undefined;
  let pool: SAHPoolUtil | undefined;
  let db: Database | undefined;
  let indexes: Record<string, string[]> = {};
  const statements = new Map<string, PreparedStatement>();
  const knownTables = new Set<string>();

  const opened = (): Database => {
    if (!db) throw new Error('The store is not open.');
    return db;
  };
  const statement = (sql: string): PreparedStatement => {
    let s = statements.get(sql);
    if (!s) {
      s = opened().prepare(sql);
      statements.set(sql, s);
    }
    return s;
  };
  const all = <T>(sql: string, bind: BindValue[] = []): T[] => {
    const s = statement(sql);
    try {
      if (bind.length > 0) s.bind(bind);
      const rows: T[] = [];
      while (s.step()) rows.push(s.get({}) as T);
      return rows;
    } finally {
      s.reset(true);
    }
  };
  const one = <T>(sql: string, bind: BindValue[]): T | undefined => all<T>(sql, bind)[0];
  const run = (sql: string, bind: BindValue[]): void => {
    const s = statement(sql);
    try {
      s.bind(bind).step();
    } finally {
      s.reset(true);
    }
  };
  const ensureTable = (entity: string): string => {
    const table = rowTableOf(entity);
    if (!knownTables.has(table)) {
      opened().exec(rowTableSql(table, indexes[entity]));
      knownTables.add(table);
    }
    return table;
  };

  async function open(request: Extract<WebStoreRequest, { op: 'open' }>): Promise<WebStoreOpened> {
    if (db) throw new Error('This worker already serves an open store.');
    sqlite3 ??= await options.loadSqlite();
    indexes = request.indexes ?? {};
    const missing = missingOpfs();
    let result: WebStoreOpened;
    if (missing === undefined) {
      if (pool?.isPaused()) await pool.unpauseVfs();
      pool ??= await installPool(sqlite3, options.directory ?? '.offline-sync');
      const path = `/${request.name}`;
      // A database and its rollback journal each take a file of the pool.
      if (!pool.getFileNames().includes(path)) await pool.reserveMinimumCapacity(pool.getFileCount() + 4);
      db = new pool.OpfsSAHPoolDb(path);
      result = { persistence: 'opfs-sahpool' };
    } else {
      if (request.requirePersistence) throw new Error(`OPFS is not available: ${missing}.`);
      db = new sqlite3.oo1.DB(':memory:', 'c');
      result = { persistence: 'memory', reason: missing };
    }
    // 8 KiB pages as the better-sqlite3 store. No WAL: the pool offers no shared memory, so a
    // rollback journal (a file of the pool) keeps each transaction whole.
    db.exec('PRAGMA page_size = 8192');
    db.exec(STORE_SCHEMA_SQL);
    return result;
  }

  function close(): void {
    for (const s of statements.values()) s.finalize();
    statements.clear();
    knownTables.clear();
    db?.close();
    db = undefined;
    // Releases the OPFS access handles so a store opened by another worker (or tab) can take them.
    if (pool && !pool.isPaused()) pool.pauseVfs();
  }

  function inTransaction(): boolean {
    const capi = sqlite3?.capi as unknown as { sqlite3_get_autocommit(db: unknown): number } | undefined;
    return db?.pointer !== undefined && capi !== undefined && capi.sqlite3_get_autocommit(db.pointer) === 0;
  }

  function call(request: WebStoreCall): unknown {
    switch (request.method) {
      case 'readState': {
        const metadata = one<{ value: string }>(STORE_SQL.getState, ['metadata']);
        const checkpoint = one<{ value: string }>(STORE_SQL.getState, ['checkpoint']);
        const state: LocalSyncState = {
          ...(metadata ? { metadata: syncMetadataResponseSchema.parse(JSON.parse(metadata.value)) } : {}),
          ...(checkpoint ? { checkpoint: checkpoint.value } : {}),
        };
        return state;
      }
      case 'saveCheckpoint': {
        const [checkpoint] = request.args;
        if (checkpoint === undefined) run(STORE_SQL.deleteState, ['checkpoint']);
        else run(STORE_SQL.putState, ['checkpoint', checkpoint]);
        return undefined;
      }
      case 'saveMetadata': {
        const [metadata] = request.args;
        for (const entity of metadata.entities) ensureTable(entity.logicalName);
        run(STORE_SQL.putState, ['metadata', JSON.stringify(metadata)]);
        return undefined;
      }
      case 'getRow': {
        const [entity, id] = request.args;
        const r = one<RowRecord>(rowSql(ensureTable(entity)).get, [id]);
        return r ? toLocalRow(entity, r) : undefined;
      }
      case 'putRow': {
        const [row] = request.args;
        run(rowSql(ensureTable(row.entity)).put, rowParams(row));
        return undefined;
      }
      case 'deleteRow': {
        const [entity, id] = request.args;
        run(rowSql(ensureTable(entity)).del, [id]);
        return undefined;
      }
      case 'applyServerChanges': {
        // The whole page in one message: statements prepared once per table, no round trip per row.
        for (const change of request.args[0]) {
          const sql = rowSql(ensureTable(change.entity));
          if (change.op === 'remove') run(sql.del, [change.id]);
          else run(sql.put, [change.id, change.version, JSON.stringify(change.row ?? {}), null, 0]);
        }
        return undefined;
      }
      case 'queryRows': {
        const [query] = request.args;
        const { sql, params } = querySql(ensureTable(query.entity), query);
        // Prepared for this query only: its SQL follows the app's query, so it is not kept.
        const s = opened().prepare(sql);
        try {
          if (params.length > 0) s.bind(params);
          const rows: RowData[] = [];
          while (s.step()) rows.push(JSON.parse(s.get(0, sqlite3!.capi.SQLITE_TEXT) as string) as RowData);
          return rows;
        } finally {
          s.finalize();
        }
      }
      case 'listRows': {
        const [entity] = request.args;
        return all<RowRecord>(rowSql(ensureTable(entity)).list).map((r) => toLocalRow(entity, r));
      }
      case 'listOutbox':
        return all<OutboxRecord>(STORE_SQL.outboxAll, [request.args[0] ?? -1]).map(toOutboxEntry);
      case 'outboxOf':
        return all<OutboxRecord>(STORE_SQL.outboxByRow, [...request.args]).map(toOutboxEntry);
      case 'addOutbox': {
        const [entry] = request.args;
        const inserted = one<{ seq: number }>(`${STORE_SQL.insertOutbox} RETURNING seq`, outboxParams(entry));
        if (!inserted) throw new Error('The outbox insert returned no seq.');
        return { ...entry, seq: Number(inserted.seq) };
      }
      case 'updateOutbox':
        run(STORE_SQL.updateOutbox, outboxUpdateParams(request.args[0]));
        return undefined;
      case 'deleteOutbox':
        run(STORE_SQL.deleteOutbox, [request.args[0]]);
        return undefined;
      case 'putSyncError': {
        const [error] = request.args;
        run(STORE_SQL.putError, [error.id, error.time, JSON.stringify(error)]);
        return undefined;
      }
      case 'listSyncErrors':
        return all<{ body: string }>(STORE_SQL.listErrors).map((r) => JSON.parse(r.body) as LocalSyncError);
      case 'deleteSyncError':
        run(STORE_SQL.deleteError, [request.args[0]]);
        return undefined;
    }
  }

  async function handle(request: WebStoreRequest): Promise<unknown> {
    switch (request.op) {
      case 'open':
        return open(request);
      case 'begin':
        opened().exec('BEGIN IMMEDIATE');
        return undefined;
      case 'commit':
        opened().exec('COMMIT');
        return undefined;
      case 'rollback':
        // SQLite may have rolled back already (a failed statement that ends the transaction).
        if (inTransaction()) opened().exec('ROLLBACK');
        // Tables the transaction created are gone with it: create them again when next needed (the
        // cached statements on them are prepared again by SQLite once their table is back).
        knownTables.clear();
        return undefined;
      case 'close':
        close();
        return undefined;
      case 'call':
        return call(request);
    }
  }

  const idOf = (data: unknown): number => {
    const id = (data as { id?: unknown } | null)?.id;
    return typeof id === 'number' ? id : -1;
  };
  let queue: Promise<void> = Promise.resolve();
  scope.addEventListener('message', (event) => {
    queue = queue.then(async () => {
      const id = idOf(event.data);
      try {
        const request = webStoreRequestSchema.parse(event.data);
        const value = await handle(request);
        scope.postMessage({ id, ok: true, value });
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        scope.postMessage({ id, ok: false, error: { name: e.name, message: e.message } });
      }
    });
  });
}
