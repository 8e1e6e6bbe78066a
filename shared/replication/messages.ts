import { z } from 'zod';
import { logicalNameSchema } from '../model/entity';
import { versionSchema } from '../model/record';
import { orgSchema } from '../model/tenant';

/**
 * The replication queue's wire protocol (SPEC §7): one schema per message type, each carrying a
 * format version `v`. Objects are strict, so nothing but these fields rides along: messages never
 * carry secrets (the source's credentials come from configuration, not from the queue).
 *
 * `v` defaults to 1 when absent so that senders written before the field existed keep working;
 * a future incompatible format gets `v: 2` and its own schema in the union.
 */

const messageVersion = z.literal(1).default(1);

/**
 * How often this message was put back on the queue instead of failing: its tenant was throttled
 * (Cosmos DB or the source answered 429) or at its concurrency cap. Grows the wait of the next
 * deferral; absent on a message never deferred.
 */
const deferred = z.number().int().positive().max(1_000_000).optional();

/** A recurring work item: read an entity's changes from the source since the stored delta token. */
export const syncEntityMessageSchema = z
  .object({
    type: z.literal('syncEntity'),
    v: messageVersion,
    deferred,
    org: orgSchema,
    entity: logicalNameSchema,
    /** Which scheduled run this is (set by the scheduler); absent for runs started by hand. */
    runId: z.string().min(1).max(200).optional(),
    /**
     * The read in progress this message goes on with (sent by a run that used its budget, see
     * `runSyncEntity`): it schedules nothing, and does nothing once that read has finished.
     */
    continues: z.string().min(1).max(200).optional(),
  })
  .strict();
export type SyncEntityMessage = z.infer<typeof syncEntityMessageSchema>;

/** Where a row change came from. */
const changeOriginSchema = z.enum(['ingest', 'dataverse', 'device']);

/**
 * One row changed in a system of record (ingest API, a Dataverse webhook or its Service Bus
 * integration, a device upload): applied if newer than the stored row.
 */
export const recordChangedMessageSchema = z
  .object({
    type: z.literal('recordChanged'),
    v: messageVersion,
    deferred,
    org: orgSchema,
    entity: logicalNameSchema,
    id: z.string().min(1).max(200),
    op: z.enum(['upsert', 'delete']),
    attributes: z.record(z.string(), z.unknown()).default({}),
    /** The source version (digits). Deletes may lack one (see `applySourceChanges`). */
    version: versionSchema.optional(),
    origin: changeOriginSchema,
    /** True when `attributes` holds only the changed columns: merged onto the stored row. */
    partial: z.boolean().optional(),
    /**
     * The row was too large to travel in a message ({@link MAX_MESSAGE_BODY_BYTES}): `attributes` is
     * empty and the handler reads the row back from the source by its id.
     */
    reread: z.literal(true).optional(),
  })
  .strict()
  .refine((m) => m.op === 'delete' || m.version !== undefined, {
    path: ['version'],
    message: 'an upsert needs a version',
  })
  .refine((m) => m.reread !== true || (m.op === 'upsert' && Object.keys(m.attributes).length === 0), {
    path: ['reread'],
    message: 'a re-read carries no attributes and is an upsert',
  });
export type RecordChangedMessage = z.infer<typeof recordChangedMessageSchema>;

/**
 * Most bytes of JSON one message body may hold. Service Bus standard tier takes 256 KB per message,
 * headers and properties included; the rest of the envelope (message id, subject, content type,
 * AMQP framing) is far below the 64 KB kept free here.
 */
export const MAX_MESSAGE_BODY_BYTES = 192 * 1024;

/** Most changes one `recordChangedBatch` message carries (one bulk apply, a few store chunks). */
export const MAX_BATCH_CHANGES = 500;

/** The fields of one row change from a system of record (ingest API, batches). */
export const rowChangeFieldsSchema = z.object({
  entity: logicalNameSchema,
  id: z.string().min(1).max(200),
  op: z.enum(['upsert', 'delete']),
  attributes: z.record(z.string(), z.unknown()).default({}),
  /** The source version (digits). Deletes may lack one (see `applySourceChanges`). */
  version: versionSchema.optional(),
});

/** An upsert must say which version it is, so that only newer versions replace a row. */
export function upsertHasVersion(change: { op: 'upsert' | 'delete'; version?: string | undefined }): boolean {
  return change.op === 'delete' || change.version !== undefined;
}
const upsertNeedsVersion = { path: ['version'], message: 'an upsert needs a version' };

/** One change of a `recordChangedBatch`: the fields of a `recordChanged` that vary per row. */
export const batchedChangeSchema = rowChangeFieldsSchema
  .extend({
    /** True when `attributes` holds only the changed columns: merged onto the stored row. */
    partial: z.boolean().optional(),
  })
  .strict()
  .refine(upsertHasVersion, upsertNeedsVersion);
export type BatchedChange = z.infer<typeof batchedChangeSchema>;

/**
 * Many rows changed in one system of record (what `POST ingest/{org}/changes` queues): applied in
 * order with one bulk apply, exactly as if each change came in its own `recordChanged` message, so
 * duplicates, replays and out-of-order deliveries converge the same way. Changes may name different
 * entities of the one tenant. Senders split large batches (see `recordChangedBatchMessages`).
 */
export const recordChangedBatchMessageSchema = z
  .object({
    type: z.literal('recordChangedBatch'),
    v: messageVersion,
    deferred,
    org: orgSchema,
    origin: changeOriginSchema,
    changes: z.array(batchedChangeSchema).min(1).max(MAX_BATCH_CHANGES),
  })
  .strict();
export type RecordChangedBatchMessage = z.infer<typeof recordChangedBatchMessageSchema>;

/** Re-read the tenant's metadata (and directory) from the source, e.g. after a publish. */
export const metadataRefreshMessageSchema = z
  .object({
    type: z.literal('metadataRefresh'),
    v: messageVersion,
    deferred,
    org: orgSchema,
  })
  .strict();
export type MetadataRefreshMessage = z.infer<typeof metadataRefreshMessageSchema>;

/** Every message of the replication queue, told apart by `type`. */
export const replicationMessageSchema = z.discriminatedUnion('type', [
  syncEntityMessageSchema,
  recordChangedMessageSchema,
  recordChangedBatchMessageSchema,
  metadataRefreshMessageSchema,
]);
export type ReplicationMessage = z.infer<typeof replicationMessageSchema>;

/** Builds a `syncEntity` message (what provisioning and the scheduler send). */
export function syncEntityMessage(org: string, entity: string, runId?: string): SyncEntityMessage {
  return { type: 'syncEntity', v: 1, org, entity, ...(runId === undefined ? {} : { runId }) };
}

/** Builds the `syncEntity` message that goes on with the read `readId` of an entity. */
export function continueReadMessage(org: string, entity: string, readId: string): SyncEntityMessage {
  return { type: 'syncEntity', v: 1, org, entity, continues: readId };
}

/** Builds a `metadataRefresh` message. */
export function metadataRefreshMessage(org: string): MetadataRefreshMessage {
  return { type: 'metadataRefresh', v: 1, org };
}

/**
 * Builds a `recordChanged` message from its fields (validated, so a bad change fails at the sender).
 * An upsert whose message would be larger than {@link MAX_MESSAGE_BODY_BYTES} (a webhook's row with
 * a large memo or file column) is not sent whole: the message carries the row's id and version
 * (`reread`), and the handler reads the row back from the source.
 */
export function recordChangedMessage(
  fields: Omit<z.input<typeof recordChangedMessageSchema>, 'type' | 'v'>,
): RecordChangedMessage {
  const message = recordChangedMessageSchema.parse({ type: 'recordChanged', v: 1, ...fields });
  if (message.op !== 'upsert' || Buffer.byteLength(JSON.stringify(message)) <= MAX_MESSAGE_BODY_BYTES) {
    return message;
  }
  const { partial, ...rest } = message;
  void partial;
  return { ...rest, attributes: {}, reread: true };
}
