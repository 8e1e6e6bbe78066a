import { AppError, isAppError } from '../../errors';
import type { StoredRecord } from '../../model/record';
import { stripSecuredColumns } from '../../security/secured-columns';
import { observeUpload } from '../../telemetry/observe';
import { appendSyncError } from '../sync-errors/sync-error-log';
import { applyUploadOperation, rejected } from './apply-upload-operation';
import {
  MAX_UPLOAD_OPERATIONS,
  uploadRowContentSchema,
  type UploadOperation,
  type UploadOutcome,
  type UploadRequest,
  type UploadResponse,
  type UploadResult,
} from './upload-protocol';
import {
  claimUploadReceipt,
  completeUploadReceipt,
  releaseUploadReceipt,
  type UploadReceipt,
} from './upload-receipt-store';
import { openUploadSession, type UploadDependencies, type UploadSession } from './upload-session';

/** Reports a failure that is not the device's fault (the route logs it with the trace id). */
export type UploadFailureLog = (message: string, data: Record<string, unknown>) => void;

/**
 * Processes a device's upload batch (SPEC §6, §10 `POST sync/{org}/upload`): the caller is resolved
 * once (directory user, may sync, profile of the app), then each operation in order and on its own —
 * one bad operation never blocks the others:
 *
 * 1. idempotency by (user, device, operation id): an id seen before answers `duplicate` with the
 *    first result and changes nothing; the id is claimed before the operation is applied, so a
 *    concurrent or post-crash retry never applies it twice;
 * 2. a row beyond the upload limits ({@link uploadRowContentSchema}: nesting, lengths, size) is
 *    rejected `ValidationFailed` before anything else reads it;
 * 3. {@link applyUploadOperation} (validation, privilege, conflict, write);
 * 4. a rejected or conflicting operation is appended to the sync error log (without a row beyond the
 *    limits, so writing the entry cannot fail on it);
 * 5. the result is recorded durably before the batch is answered.
 *
 * A passing failure (source unavailable, throttled) is answered `rejected` with its code and not
 * recorded, so the device's retry with the same operation id runs it again. More than
 * {@link MAX_UPLOAD_OPERATIONS} operations is 413 `PayloadTooLarge`.
 */
export function processUploadBatch(
  deps: UploadDependencies,
  callerObjectId: string,
  request: UploadRequest,
  logFailure: UploadFailureLog = () => undefined,
): Promise<UploadResponse> {
  return observeUpload(deps.tenant.org, request, () =>
    uploadBatch(deps, callerObjectId, request, logFailure),
  );
}

async function uploadBatch(
  deps: UploadDependencies,
  callerObjectId: string,
  request: UploadRequest,
  logFailure: UploadFailureLog,
): Promise<UploadResponse> {
  if (request.operations.length > MAX_UPLOAD_OPERATIONS) {
    throw new AppError(
      'PayloadTooLarge',
      `An upload batch holds at most ${MAX_UPLOAD_OPERATIONS} operations; this one has ${request.operations.length}. Split it.`,
      { details: { maxOperations: MAX_UPLOAD_OPERATIONS, operations: request.operations.length } },
    );
  }
  const session = await openUploadSession(deps, { objectId: callerObjectId }, request.app, request.deviceId);
  const results: UploadResult[] = [];
  for (const operation of request.operations) {
    results.push(await processOperation(session, operation, logFailure));
  }
  return { results };
}

async function processOperation(
  session: UploadSession,
  operation: UploadOperation,
  logFailure: UploadFailureLog,
): Promise<UploadResult> {
  const key = { userId: session.user.user.id, deviceId: session.deviceId, now: session.clock.now() };
  const claim = await claimUploadReceipt(session.store, key, operation);
  let outcome: UploadOutcome | undefined;
  if (claim.kind === 'existing') {
    const { receipt } = claim.stored;
    if (!sameOperation(receipt, operation)) {
      return {
        opId: operation.opId,
        ...rejected(
          'Conflict',
          `Operation id '${operation.opId}' was already used for the ${receipt.op} of ${receipt.entity} '${receipt.id}'.`,
        ),
      };
    }
    if (receipt.state === 'done' && receipt.outcome !== undefined) {
      return { opId: operation.opId, ...receipt.outcome, status: 'duplicate', original: receipt.outcome };
    }
  }
  const rowLimits = rowLimitsRefusal(operation);
  if (rowLimits !== undefined) {
    outcome = rowLimits;
  } else if (claim.kind === 'existing') {
    // Pending: an earlier delivery claimed it and stopped (a crash) or is still running. If its
    // effect is already in the store, answer that instead of applying the operation a second time.
    outcome = await effectAlreadyStored(session, operation);
  }

  try {
    outcome ??= await applyUploadOperation(session, operation);
  } catch (error) {
    await releaseUploadReceipt(session.store, key, operation.opId);
    if (!isAppError(error)) {
      logFailure('upload operation failed', {
        opId: operation.opId,
        error: error instanceof Error ? error.stack : String(error),
      });
      return {
        opId: operation.opId,
        ...rejected('Internal', 'An internal error occurred; retry the operation.'),
      };
    }
    return { opId: operation.opId, ...rejected(error.code, error.message) };
  }
  if (outcome.status !== 'applied') {
    // A row beyond the limits is left out of the entry: it is what could not be stored.
    const { row: _beyondLimits, ...withoutRow } = operation;
    await appendSyncError(
      session.store,
      session.clock.now(),
      { userId: session.user.user.id, deviceId: session.deviceId, app: session.app },
      rowLimits === undefined ? operation : withoutRow,
      outcome,
    );
  }
  await completeUploadReceipt(session.store, key, operation, outcome);
  return { opId: operation.opId, ...outcome };
}

/** The rejection of an operation whose row is beyond the upload limits, else undefined. */
function rowLimitsRefusal(operation: UploadOperation): UploadOutcome | undefined {
  if (operation.row === undefined) return undefined;
  const checked = uploadRowContentSchema.safeParse(operation.row);
  if (checked.success) return undefined;
  const problems = checked.error.issues.map((issue) => ({
    path: ['row', ...issue.path.map(String)].join('.'),
    code: 'LimitExceeded',
    message: issue.message,
  }));
  return rejected(
    'ValidationFailed',
    `The row of ${operation.entity} '${operation.id}' is beyond the upload limits: ${problems
      .map((p) => `${p.path} ${p.message}`)
      .join('; ')}`,
    problems,
  );
}

function sameOperation(receipt: UploadReceipt, operation: UploadOperation): boolean {
  return receipt.entity === operation.entity && receipt.id === operation.id && receipt.op === operation.op;
}

/**
 * The `applied` outcome of an operation whose effect the store already shows (a live row holding
 * every column sent, for a create or update; a tombstone, for a delete), else undefined.
 */
async function effectAlreadyStored(
  session: UploadSession,
  operation: UploadOperation,
): Promise<UploadOutcome | undefined> {
  const entity = session.entities.get(operation.entity);
  if (entity === undefined) return undefined;
  const stored: StoredRecord | undefined = await session.store.getRecord(operation.entity, operation.id);
  if (stored === undefined) return undefined;
  if (operation.op === 'delete') {
    return stored.deleted ? { status: 'applied', version: stored.version } : undefined;
  }
  if (stored.deleted) return undefined;
  const sent = operation.row ?? {};
  const holdsAll = Object.entries(sent).every(
    ([name, value]) => JSON.stringify(stored.attributes[name]) === JSON.stringify(value),
  );
  if (!holdsAll) return undefined;
  return {
    status: 'applied',
    version: stored.version,
    row: stripSecuredColumns(session.user, entity, stored.attributes),
  };
}
