import { z } from 'zod';
import { loadEntityDrafts } from '../admin/entity-config';
import { AppError, type ErrorDetail } from '../errors';
import { boundedJsonRecordSchema, ROW_LIMITS } from '../model/json-limits';
import { safeIdSchema } from '../model/safe-text';
import type { QueueSender } from '../queue/port';
import {
  recordChangedBatchMessages,
  rowChangeFieldsSchema,
  upsertHasVersion,
  recordChangedMessage,
  syncEntityMessage,
  type RecordChangedMessage,
} from '../replication';
import { normalizeRemoteExecutionContext } from '../sources/dataverse';
import type { DocStore } from '../store/port';

/** Most changes one `POST ingest/{org}/changes` may carry. */
export const MAX_INGEST_CHANGES = 1000;

/**
 * One change from a system of record (SPEC §10). Its id is safe text; its attributes are data and
 * keep whatever the source allows, within {@link ROW_LIMITS} (nesting, string and array lengths,
 * column count), so that queueing, storing and logging the row cannot fail on it.
 */
export const ingestChangeSchema = rowChangeFieldsSchema
  .extend({
    id: safeIdSchema(200),
    attributes: boundedJsonRecordSchema(ROW_LIMITS).default({}),
  })
  .strict()
  .refine(upsertHasVersion, {
    path: ['version'],
    message: 'an upsert needs a version',
  });
export type IngestChange = z.infer<typeof ingestChangeSchema>;

export const ingestChangesSchema = z.array(ingestChangeSchema).min(1).max(MAX_INGEST_CHANGES);

export const ingestAcceptedSchema = z.object({ accepted: z.number().int(), queued: z.number().int() });

/**
 * Queues a batch of changes for replication. Every change names a declared entity (422 with each
 * unknown one, and nothing queued). The changes travel in order in as few `recordChangedBatch`
 * messages as the queue's message size allows (at most 500 changes each), which the queue handler
 * applies idempotently with one bulk write each. `queued` counts the changes queued.
 */
export async function ingestChanges(
  store: DocStore,
  queue: QueueSender,
  org: string,
  changes: readonly IngestChange[],
): Promise<{ accepted: number; queued: number }> {
  const declared = new Set((await loadEntityDrafts(store)).map((e) => e.metadata.logicalName));
  const unknown: ErrorDetail[] = changes.flatMap((change, index) =>
    declared.has(change.entity)
      ? []
      : [
          {
            path: `body.${index}.entity`,
            code: 'UnknownEntity',
            message: `Entity '${change.entity}' is not declared.`,
          },
        ],
  );
  if (unknown.length > 0)
    throw new AppError('Unprocessable', 'Some changes name undeclared entities.', { details: unknown });
  await queue.sendBatch(recordChangedBatchMessages(org, 'ingest', changes));
  return { accepted: changes.length, queued: changes.length };
}

function toRecordChanged(
  org: string,
  change: {
    entity: string;
    id: string;
    op: 'upsert' | 'delete';
    attributes: Record<string, unknown>;
    version?: string | undefined;
  },
  origin: 'ingest' | 'dataverse',
  partial?: boolean,
): RecordChangedMessage {
  return recordChangedMessage({
    org,
    entity: change.entity,
    id: change.id,
    op: change.op,
    attributes: change.attributes,
    ...(change.version === undefined ? {} : { version: change.version }),
    origin,
    ...(partial === undefined ? {} : { partial }),
  });
}

/**
 * Queues what a Dataverse webhook reported (a RemoteExecutionContext). A change that carries its row
 * version becomes a `recordChanged` (merged when it holds only the changed columns); one without a
 * version, or trimmed by Dataverse, asks for a change-tracking read of its entity instead, which
 * fetches the row at its real version. The post image is the one the tenant's settings name
 * (`dataversePostImageName`), else the only registered one.
 */
export async function ingestDataverseContext(
  queue: QueueSender,
  org: string,
  body: unknown,
  options: { postImageName?: string | null } = {},
): Promise<{ accepted: number; queued: number }> {
  let changes: ReturnType<typeof normalizeRemoteExecutionContext>;
  try {
    changes = normalizeRemoteExecutionContext(
      body,
      options.postImageName == null ? {} : { postImageName: options.postImageName },
    );
  } catch (error) {
    if (error instanceof z.ZodError) {
      throw new AppError('ValidationFailed', 'The body is not a RemoteExecutionContext.', {
        details: error.issues.map((i) => ({
          path: ['body', ...i.path.map(String)].join('.'),
          code: i.code,
          message: i.message,
        })),
      });
    }
    throw error;
  }
  const messages = changes.map((change) =>
    change.reread || (change.op === 'upsert' && change.version === undefined)
      ? syncEntityMessage(org, change.entity)
      : toRecordChanged(org, change, 'dataverse', change.merge),
  );
  await queue.sendBatch(messages);
  return { accepted: changes.length, queued: messages.length };
}
