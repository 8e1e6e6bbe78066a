import type { z } from 'zod';
import { orgSchema } from '../model/tenant';
import {
  batchedChangeSchema,
  MAX_BATCH_CHANGES,
  MAX_MESSAGE_BODY_BYTES,
  type BatchedChange,
  type RecordChangedBatchMessage,
} from './messages';

/** Most bytes of JSON one batch message body may hold (the queue's {@link MAX_MESSAGE_BODY_BYTES}). */
export const MAX_BATCH_BODY_BYTES = MAX_MESSAGE_BODY_BYTES;

/** How {@link recordChangedBatchMessages} splits (tests pass smaller limits). */
export interface BatchLimits {
  /** Changes per message, at most {@link MAX_BATCH_CHANGES}. */
  maxChanges?: number;
  /** Bytes of serialized JSON per message body. */
  maxBodyBytes?: number;
}

/**
 * Packs changes into as few `recordChangedBatch` messages as the limits allow, keeping their order
 * (so a later change of a row stays after an earlier one, in the same message or a later one).
 * A message ends when it holds `maxChanges` changes or the next change would take its serialized
 * body past `maxBodyBytes`. A single change larger than the limit travels alone (the queue adapter
 * then refuses it as too large, as it would a lone `recordChanged`). Each change is validated, so a
 * bad one fails here, at the sender.
 */
export function recordChangedBatchMessages(
  org: string,
  origin: RecordChangedBatchMessage['origin'],
  changes: readonly z.input<typeof batchedChangeSchema>[],
  limits: BatchLimits = {},
): RecordChangedBatchMessage[] {
  const maxChanges = Math.max(1, Math.min(limits.maxChanges ?? MAX_BATCH_CHANGES, MAX_BATCH_CHANGES));
  const maxBodyBytes = limits.maxBodyBytes ?? MAX_BATCH_BODY_BYTES;
  const envelope = { type: 'recordChangedBatch' as const, v: 1 as const, org: orgSchema.parse(org), origin };
  // `{…,"changes":[]}`: the bytes every message spends before its first change.
  const envelopeBytes = Buffer.byteLength(JSON.stringify({ ...envelope, changes: [] }));
  const messages: RecordChangedBatchMessage[] = [];
  let current: BatchedChange[] = [];
  let currentBytes = envelopeBytes;
  for (const input of changes) {
    // Parsed first, so the size measured is the size sent (defaults filled in).
    const change = batchedChangeSchema.parse(input);
    const bytes = Buffer.byteLength(JSON.stringify(change));
    // A comma before every change but the first.
    const full =
      current.length >= maxChanges || (current.length > 0 && currentBytes + 1 + bytes > maxBodyBytes);
    if (full) {
      messages.push({ ...envelope, changes: current });
      current = [];
      currentBytes = envelopeBytes;
    }
    currentBytes += (current.length === 0 ? 0 : 1) + bytes;
    current.push(change);
  }
  if (current.length > 0) messages.push({ ...envelope, changes: current });
  return messages;
}
