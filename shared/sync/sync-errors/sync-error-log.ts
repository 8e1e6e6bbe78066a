import { randomUUID } from 'node:crypto';
import { AppError } from '../../errors';
import type { DocStore } from '../../store/port';
import {
  syncErrorEntrySchema,
  type SyncErrorEntry,
  type SyncErrorType,
  type UploadOperation,
  type UploadOutcome,
} from '../upload/upload-protocol';

/** Doc kind of the tenant's sync error log (one document per entry). */
const SYNC_ERROR_KIND = 'syncError';

/** Which log type a result's error code belongs to (Dynamics' Conflict / Record Not Found / Others). */
export function syncErrorTypeOf(code: string): SyncErrorType {
  switch (code) {
    case 'Conflict':
    case 'PreconditionFailed':
      return 'Conflict';
    case 'NotFound':
      return 'RecordNotFound';
    case 'PrivilegeDenied':
      return 'PrivilegeDenied';
    case 'ValidationFailed':
      return 'ValidationFailed';
    default:
      return 'Other';
  }
}

/**
 * An entry id that orders by time (listings are by id): milliseconds since the epoch, zero-padded,
 * then a random part so entries of the same millisecond never collide. URL-safe for the retry route.
 */
function entryId(now: Date): string {
  return `${String(now.getTime()).padStart(15, '0')}-${randomUUID()}`;
}

/** Who made the operation, from which device and app. */
export interface SyncErrorOrigin {
  userId: string;
  deviceId: string;
  app: string;
}

/**
 * Appends a rejected or conflicting operation to the tenant's sync error log (SPEC §6 "Sync errors"):
 * time, user, device, entity, row, operation, the data sent, error type and code.
 */
export async function appendSyncError(
  store: DocStore,
  now: Date,
  origin: SyncErrorOrigin,
  operation: UploadOperation,
  outcome: UploadOutcome,
): Promise<SyncErrorEntry> {
  const code = outcome.status === 'conflict' ? 'Conflict' : (outcome.error?.code ?? 'Internal');
  const entry: SyncErrorEntry = {
    id: entryId(now),
    time: now.toISOString(),
    userId: origin.userId,
    deviceId: origin.deviceId,
    app: origin.app,
    opId: operation.opId,
    entity: operation.entity,
    recordId: operation.id,
    operation: operation.op,
    ...(operation.baseVersion === undefined ? {} : { baseVersion: operation.baseVersion }),
    ...(operation.row === undefined ? {} : { data: operation.row }),
    errorType: syncErrorTypeOf(code),
    errorCode: code,
    message:
      outcome.status === 'conflict'
        ? `${operation.entity} '${operation.id}' changed on the server since version ${operation.baseVersion ?? '(none)'}.`
        : (outcome.error?.message ?? 'The operation was rejected.'),
    state: 'open',
  };
  await store.putDoc(SYNC_ERROR_KIND, entry.id, entry, { ifNoneMatch: '*' });
  return entry;
}

/** Filters of {@link listSyncErrors}. */
export interface SyncErrorFilter {
  userId?: string;
  deviceId?: string;
  entity?: string;
  limit: number;
}

/** Entries read at once while listing, newest first. */
const LIST_READ_BATCH = 50;

/**
 * Entries of the log, newest first, that match every given filter (user ids compare
 * case-insensitively), at most `limit`. Only the ids of the whole log are listed; entries are read
 * newest first, a batch at a time, until `limit` match, so a long log costs little to page through.
 */
export async function listSyncErrors(store: DocStore, filter: SyncErrorFilter): Promise<SyncErrorEntry[]> {
  const ids = await store.listDocEtags(SYNC_ERROR_KIND);
  const wantedUser = filter.userId?.toLowerCase();
  const found: SyncErrorEntry[] = [];
  for (let end = ids.length; end > 0 && found.length < filter.limit; end -= LIST_READ_BATCH) {
    const batch = ids.slice(Math.max(0, end - LIST_READ_BATCH), end).reverse();
    const docs = await Promise.all(batch.map(({ id }) => store.getDoc(SYNC_ERROR_KIND, id)));
    for (const doc of docs) {
      // An entry deleted since the listing (none are today) is simply not shown.
      if (doc === undefined || found.length >= filter.limit) continue;
      const entry = syncErrorEntrySchema.parse(doc.value);
      if (wantedUser !== undefined && entry.userId.toLowerCase() !== wantedUser) continue;
      if (filter.deviceId !== undefined && entry.deviceId !== filter.deviceId) continue;
      if (filter.entity !== undefined && entry.entity !== filter.entity) continue;
      found.push(entry);
    }
  }
  return found;
}

/** One entry with its etag; 404 `NotFound` when the log has none of that id. */
export async function getSyncError(
  store: DocStore,
  errorId: string,
): Promise<{ entry: SyncErrorEntry; etag: string }> {
  const doc = await store.getDoc(SYNC_ERROR_KIND, errorId);
  if (doc === undefined) throw new AppError('NotFound', `Sync error '${errorId}' does not exist.`);
  return { entry: syncErrorEntrySchema.parse(doc.value), etag: doc.etag };
}

/**
 * Records a retry's result on its entry: `resolved` when the retry applied the operation, `retried`
 * otherwise. A concurrent change to the entry is `PreconditionFailed`.
 */
export async function recordSyncErrorRetry(
  store: DocStore,
  errorId: string,
  etag: string,
  now: Date,
  result: UploadOutcome,
): Promise<SyncErrorEntry> {
  const { entry } = await getSyncError(store, errorId);
  const updated: SyncErrorEntry = {
    ...entry,
    state: result.status === 'applied' ? 'resolved' : 'retried',
    lastRetry: { time: now.toISOString(), result },
  };
  await store.putDoc(SYNC_ERROR_KIND, errorId, updated, { ifMatch: etag });
  return updated;
}
