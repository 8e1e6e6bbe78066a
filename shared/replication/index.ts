/** Replication (SPEC §7): the queue messages, the one queue handler both hosts use, and applying changes. */
export {
  applySourceChanges,
  type ApplySourceChangesOptions,
  type ApplySummary,
  type ReplicationChange,
} from './apply-source-changes';
export { DELTA_TOKEN_KIND, readDeltaToken, saveDeltaToken } from './delta-token-store';
export {
  handleReplicationMessage,
  processReplicationMessage,
  type ReplicationOutcome,
} from './handle-replication-message';
export {
  batchedChangeSchema,
  rowChangeFieldsSchema,
  upsertHasVersion,
  MAX_BATCH_CHANGES,
  MAX_MESSAGE_BODY_BYTES,
  metadataRefreshMessage,
  metadataRefreshMessageSchema,
  recordChangedMessage,
  recordChangedBatchMessageSchema,
  recordChangedMessageSchema,
  replicationMessageSchema,
  syncEntityMessage,
  syncEntityMessageSchema,
  type BatchedChange,
  type MetadataRefreshMessage,
  type RecordChangedBatchMessage,
  type RecordChangedMessage,
  type ReplicationMessage,
  type SyncEntityMessage,
} from './messages';
export { MAX_BATCH_BODY_BYTES, recordChangedBatchMessages, type BatchLimits } from './record-changed-batches';
export {
  readReplicationStatus,
  type EntityReplicationStatus,
  type ReplicationError,
  type ReplicationStatus,
} from './replication-status';
export type { SyncEntityOptions, SyncEntityOutcome } from './sync-entity';
