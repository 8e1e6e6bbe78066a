/**
 * The device SDK (`@offline-sync/client`): a sync client over a local store the app provides. This
 * entry imports nothing platform-specific (Web Crypto, `fetch`, timers): it runs in browsers, React
 * Native, Node.js and workers. Stores have their own entries: `@offline-sync/client/sqlite`
 * (better-sqlite3), `/web` (SQLite in WebAssembly, in a worker), `/memory`; store authors test theirs
 * with `/conformance`. The wire schemas are the server's own (`shared/sync`).
 */
export {
  createSyncClient,
  DEFAULT_PAGE_SIZE,
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
export {
  INITIAL_SYNC_STATUS,
  nextSyncStatus,
  type DownloadStatus,
  type SyncStatus,
  type SyncStatusError,
  type SyncStatusEvent,
} from './sync-status';
export {
  backoffMs,
  DEFAULT_LOOP_POLICY,
  nextLoopState,
  startSyncLoop,
  webLoopEnvironment,
  type LoopEffect,
  type LoopEvent,
  type LoopPhase,
  type LoopPolicy,
  type LoopState,
  type SyncLoop,
  type SyncLoopEnvironment,
  type SyncLoopOptions,
} from './sync-loop';
export {
  evaluateQuery,
  rowQuerySchema,
  type CheckedRowQuery,
  type ColumnOperators,
  type OrderBy,
  type RowQuery,
  type Scalar,
  type Where,
} from './query';
export type { ChangeFeed, RowOf, Table, TableSchema } from './live-query';
