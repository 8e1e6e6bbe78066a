import { isAppError } from '../../errors';
import { applyUploadOperation, rejected } from '../upload/apply-upload-operation';
import type { SyncErrorEntry, UploadOperation, UploadOutcome } from '../upload/upload-protocol';
import { openUploadSession, type UploadDependencies } from '../upload/upload-session';
import { getSyncError, recordSyncErrorRetry } from './sync-error-log';

/**
 * Retries a logged operation (SPEC §6 "an operation can be retried from it"): runs it again as its
 * user, with that user's current privileges and profile and the tenant's current conflict setting,
 * and records the result on the entry (`resolved` when applied, else `retried`). The device's
 * idempotency receipt is left alone: the retry is the admin's new attempt, and the applied row
 * reaches the device on its next download. A user who can no longer sync gets a `rejected` result.
 */
export async function retrySyncError(
  deps: UploadDependencies,
  errorId: string,
): Promise<{ result: UploadOutcome; entry: SyncErrorEntry }> {
  const { entry, etag } = await getSyncError(deps.store, errorId);
  const operation: UploadOperation = {
    opId: entry.opId,
    entity: entry.entity,
    id: entry.recordId,
    op: entry.operation,
    ...(entry.data === undefined ? {} : { row: entry.data }),
    ...(entry.baseVersion === undefined ? {} : { baseVersion: entry.baseVersion }),
  };
  let result: UploadOutcome;
  try {
    const session = await openUploadSession(deps, { userId: entry.userId }, entry.app, entry.deviceId);
    result = await applyUploadOperation(session, operation);
  } catch (error) {
    // The user left the directory, lost the sync privilege or the profile: the retry's answer.
    if (
      !isAppError(error) ||
      !['NotFound', 'Forbidden', 'PrivilegeDenied', 'NoProfile'].includes(error.code)
    ) {
      throw error;
    }
    result = rejected(error.code, error.message);
  }
  const updated = await recordSyncErrorRetry(deps.store, errorId, etag, deps.clock.now(), result);
  return { result, entry: updated };
}
