import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError, isAppError } from '../../errors';
import type { DocStore } from '../../store/port';
import { uploadOutcomeSchema, type UploadOperation, type UploadOutcome } from './upload-protocol';

/** Doc kind of upload receipts: one document per (user, device, operation id). */
const RECEIPT_KIND = 'uploadReceipt';

/**
 * What the server remembers of one operation, for idempotency: `pending` from just before it is
 * applied (so a crash in between is detected on the retry), then `done` with the first outcome.
 */
export const uploadReceiptSchema = z.object({
  userId: z.string(),
  deviceId: z.string(),
  opId: z.string(),
  entity: z.string(),
  id: z.string(),
  op: z.enum(['create', 'update', 'delete']),
  state: z.enum(['pending', 'done']),
  outcome: uploadOutcomeSchema.optional(),
  updatedAt: z.iso.datetime(),
});
export type UploadReceipt = z.infer<typeof uploadReceiptSchema>;

/** The stored receipt with the etag to update it with. */
export interface StoredUploadReceipt {
  receipt: UploadReceipt;
  etag: string;
}

/** The result of claiming an operation id. */
export type ReceiptClaim =
  | { kind: 'claimed'; etag: string }
  /** A receipt existed: done (answer duplicate) or pending (a crash or a concurrent retry). */
  | { kind: 'existing'; stored: StoredUploadReceipt };

/** The receipt's document id: a hash, so any user, device and operation id make a valid id. */
export function receiptId(userId: string, deviceId: string, opId: string): string {
  return createHash('sha256')
    .update(JSON.stringify([userId.toLowerCase(), deviceId, opId]))
    .digest('hex');
}

/** What every receipt of an operation says, whatever its state. */
function receiptOf(
  key: { userId: string; deviceId: string; now: Date },
  operation: UploadOperation,
): Omit<UploadReceipt, 'state' | 'outcome'> {
  return {
    userId: key.userId,
    deviceId: key.deviceId,
    opId: operation.opId,
    entity: operation.entity,
    id: operation.id,
    op: operation.op,
    updatedAt: key.now.toISOString(),
  };
}

/**
 * Claims an operation id before the operation is applied: writes a `pending` receipt only if none
 * exists, so of two concurrent deliveries of one batch only one applies each operation.
 */
export async function claimUploadReceipt(
  store: DocStore,
  key: { userId: string; deviceId: string; now: Date },
  operation: UploadOperation,
): Promise<ReceiptClaim> {
  const docId = receiptId(key.userId, key.deviceId, operation.opId);
  const pending: UploadReceipt = { ...receiptOf(key, operation), state: 'pending' };
  try {
    const doc = await store.putDoc(RECEIPT_KIND, docId, pending, { ifNoneMatch: '*' });
    return { kind: 'claimed', etag: doc.etag };
  } catch (error) {
    if (!isAppError(error) || error.code !== 'Conflict') throw error;
  }
  const doc = await store.getDoc(RECEIPT_KIND, docId);
  if (doc === undefined) {
    // Someone deleted the receipt between our write and read (a transient failure releasing it).
    throw new AppError('Unavailable', `Operation '${operation.opId}' is being processed; retry it.`, {
      retryAfterSeconds: 1,
    });
  }
  return { kind: 'existing', stored: { receipt: uploadReceiptSchema.parse(doc.value), etag: doc.etag } };
}

/** Records an operation's first outcome durably (before the batch is answered). */
export async function completeUploadReceipt(
  store: DocStore,
  key: { userId: string; deviceId: string; now: Date },
  operation: UploadOperation,
  outcome: UploadOutcome,
): Promise<void> {
  const receipt: UploadReceipt = { ...receiptOf(key, operation), state: 'done', outcome };
  await store.putDoc(RECEIPT_KIND, receiptId(key.userId, key.deviceId, operation.opId), receipt);
}

/**
 * Forgets a claim whose operation failed for a passing reason (source unavailable, throttled), so
 * the device's retry with the same operation id runs it again instead of repeating the failure.
 */
export async function releaseUploadReceipt(
  store: DocStore,
  key: { userId: string; deviceId: string },
  opId: string,
): Promise<void> {
  await store.deleteDoc(RECEIPT_KIND, receiptId(key.userId, key.deviceId, opId));
}
