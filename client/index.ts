/**
 * The device SDK (`@offline-sync/client`): a sync client over a local store the app provides, and a
 * shipped better-sqlite3 store. The wire schemas are the server's own (`shared/sync`).
 */
export {
  createSyncClient,
  type SyncClient,
  type SyncClientOptions,
  type SyncProgress,
  type SyncSummary,
} from './sync-client';
export type {
  LocalRow,
  LocalStore,
  LocalStoreTransaction,
  LocalSyncError,
  LocalSyncState,
  OutboxEntry,
  RowData,
} from './local-store';
export { applyPendingOperations, serverImageOf, settleRow, type ServerImage } from './local-view';
export { createSqliteLocalStore, type SqliteLocalStore } from './sqlite-local-store';
export {
  createSyncTransport,
  DEFAULT_RETRY_POLICY,
  parseRetryAfter,
  SyncClientError,
  type RetryPolicy,
  type SyncTransport,
  type SyncTransportOptions,
} from './sync-transport';
export type { SyncMetadataResponse, DownloadChange } from '../shared/sync/sync-protocol';
export type { UploadResult, SyncErrorEntry } from '../shared/sync/upload/upload-protocol';
