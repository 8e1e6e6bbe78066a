import type { DownloadChange, SyncMetadataResponse } from '../shared/sync/sync-protocol';
import type { UploadError } from '../shared/sync/upload/upload-protocol';
import type { CheckedRowQuery } from './query';

/** A row's columns, as the server sends them (JSON values). */
export type RowData = Record<string, unknown>;

/**
 * One row as the device keeps it. While local changes are pending, `row` is the app's view (the
 * server image with the pending changes laid over it) and `serverRow` the last server image, kept so a
 * rejected change can be reverted and a newer download can be rebased under the pending changes.
 */
export interface LocalRow {
  entity: string;
  id: string;
  /** What the app sees; `null` while a local delete is pending. */
  row: RowData | null;
  /** The server's version of the row; absent for a row created on the device and not yet uploaded. */
  version?: string;
  /** The last server image; only kept while `pending` (`null`: the server has no such row yet). */
  serverRow?: RowData | null;
  /** True while the outbox holds operations on this row. */
  pending: boolean;
}

/** One offline create, update or delete waiting in the outbox, in the order the app made them. */
export interface OutboxEntry {
  /** The client operation id (a UUID): the server answers a repeated one `duplicate`. */
  opId: string;
  /** Order of the entry in the outbox (ascending). */
  seq: number;
  entity: string;
  id: string;
  op: 'create' | 'update' | 'delete';
  /** create: the whole row; update: only the changed columns; delete: none. */
  row?: RowData;
  /** The server version the change was based on; absent while it follows an earlier pending entry. */
  baseVersion?: string;
  /** The earlier pending entry of the same row this one was made on top of. */
  afterOpId?: string;
  /** When the app made the change (ISO 8601). */
  createdAt: string;
}

/** A rejected or conflicting operation, kept on the device so the app can show it and retry it. */
export interface LocalSyncError {
  /** The operation id of the failed entry. */
  id: string;
  time: string;
  entity: string;
  recordId: string;
  op: 'create' | 'update' | 'delete';
  /** The columns the device sent. */
  row?: RowData;
  /** `rejected`: the change was reverted; `conflict`: the server's row replaced the local copy. */
  status: 'rejected' | 'conflict';
  error: UploadError;
}

/** What the device remembers between syncs besides its rows. */
export interface LocalSyncState {
  /** The last metadata applied (its `metadataVersion` decides when to download it again). */
  metadata?: SyncMetadataResponse;
  /** The checkpoint saved with the last applied download page. */
  checkpoint?: string;
}

/**
 * The primitive reads and writes of one store transaction. Every call belongs to the transaction it
 * was handed to; implementations may assume calls are awaited one after another.
 */
export interface LocalStoreTransaction {
  readState(): Promise<LocalSyncState>;
  saveCheckpoint(checkpoint: string | undefined): Promise<void>;
  /**
   * Saves metadata and creates storage for entities not seen before. Existing rows are kept: a new
   * metadata version never wipes local data (rows of entities that left the profile are removed by
   * the server's removals).
   */
  saveMetadata(metadata: SyncMetadataResponse): Promise<void>;
  getRow(entity: string, id: string): Promise<LocalRow | undefined>;
  putRow(row: LocalRow): Promise<void>;
  deleteRow(entity: string, id: string): Promise<void>;
  /**
   * Optional fast path of a download page: applies, in order, server changes of rows that have no
   * pending local change: `upsert` stores `row` with `version` as the server image (`pending: false`),
   * `remove` deletes the row. Equivalent to `putRow` / `deleteRow` one change at a time (what the SDK
   * does when a store leaves it out); a store implements it to write a page with statements prepared
   * once and no per-row round trip (the shipped SQLite store does).
   */
  applyServerChanges?(changes: readonly DownloadChange[]): Promise<void>;
  /**
   * Optional: the rows (what the app sees) of one entity that a query selects, in its order, as
   * `evaluateQuery` in `query.ts` defines it (the SDK evaluates it over `listRows` when a store leaves
   * this out). A store implements it to filter, sort and limit in its engine, with indexes.
   */
  queryRows?(query: CheckedRowQuery): Promise<RowData[]>;
  /** Every row of an entity, pending deletes (row `null`) included, ordered by id. */
  listRows(entity: string): Promise<LocalRow[]>;
  /** Outbox entries in order; `limit` caps how many. */
  listOutbox(limit?: number): Promise<OutboxEntry[]>;
  /** Outbox entries of one row, in order. */
  outboxOf(entity: string, id: string): Promise<OutboxEntry[]>;
  /** Appends an entry (its `seq` is assigned by the store and returned). */
  addOutbox(entry: Omit<OutboxEntry, 'seq'>): Promise<OutboxEntry>;
  updateOutbox(entry: OutboxEntry): Promise<void>;
  deleteOutbox(opId: string): Promise<void>;
  putSyncError(error: LocalSyncError): Promise<void>;
  listSyncErrors(): Promise<LocalSyncError[]>;
  deleteSyncError(id: string): Promise<void>;
}

/**
 * The device's local database, implemented by the app (SPEC §6). The SDK keeps every rule (what to
 * upload, how to revert, how to rebase pending changes under a download) and asks the store only for
 * transactions of primitive reads and writes, so the same interface fits better-sqlite3 (shipped:
 * `createSqliteLocalStore`), React Native SQLite (op-sqlite / expo-sqlite `withTransactionAsync`) and
 * Capacitor SQLite (`beginTransaction` / `commitTransaction` / `rollbackTransaction`).
 *
 * `transaction` must run `work` atomically: all of its writes are committed together when the promise
 * resolves and none when it rejects. Transactions must not overlap: run them one at a time (queue
 * them) on a single connection. A download page's rows and its checkpoint are written in one
 * transaction, so a crash never leaves the checkpoint ahead of the rows.
 */
export interface LocalStore {
  transaction<T>(work: (tx: LocalStoreTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
