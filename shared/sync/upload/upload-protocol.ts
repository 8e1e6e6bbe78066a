import * as z from 'zod';
import { appIdSchema } from '../../model/app';
import { logicalNameSchema } from '../../model/entity';
import { findJsonLimitProblem, ROW_LIMITS } from '../../model/json-limits';
import { versionSchema } from '../../model/record';
import { safeIdSchema } from '../../model/safe-text';
import { deviceIdSchema } from '../sync-protocol';

/**
 * Wire schemas of the upload half of device sync (SPEC §6, §10 `POST sync/{org}/upload`) and of the
 * sync error log. The client SDK imports these same schemas.
 */

/** Most operations one upload batch may carry; a larger batch is refused whole (413). */
export const MAX_UPLOAD_OPERATIONS = 500;

/** A client operation id: unique per (user, device); a repeated one is answered `duplicate`. */
export const operationIdSchema = safeIdSchema(200);

/**
 * Largest row one operation may carry, as UTF-8 JSON (1.5 MiB): the row as stored and the sync
 * error entry that logs it both stay under Cosmos DB's 2 MB per item.
 */
export const MAX_UPLOAD_ROW_BYTES = 1_572_864;

/**
 * What an operation's row may hold (on top of its shape, `Record<string, unknown>`): values within
 * {@link ROW_LIMITS} (nesting, string and array lengths, column count and name length) and at most
 * {@link MAX_UPLOAD_ROW_BYTES}. The upload checks it per operation, not as part of the request
 * schema, so a row beyond it is rejected alone (`ValidationFailed`) and never fails its batch.
 */
export const uploadRowContentSchema = z.record(z.string(), z.unknown()).superRefine((row, ctx) => {
  const problem = findJsonLimitProblem(row, ROW_LIMITS);
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    return; // Measuring the size would serialize a value that may be too deep to serialize.
  }
  const bytes = Buffer.byteLength(JSON.stringify(row), 'utf8');
  if (bytes > MAX_UPLOAD_ROW_BYTES) {
    ctx.addIssue({
      code: 'custom',
      path: [],
      message: `is ${bytes} bytes as JSON, more than ${MAX_UPLOAD_ROW_BYTES}`,
    });
  }
});

/** One create, update or delete made offline. */
export const uploadOperationSchema = z
  .object({
    opId: operationIdSchema,
    entity: logicalNameSchema,
    /** The row's primary id. */
    id: safeIdSchema(200),
    op: z.enum(['create', 'update', 'delete']),
    /**
     * create: the new row; update: only the columns the device changed; delete: ignored. Its content
     * is checked per operation ({@link uploadRowContentSchema}).
     */
    row: z.record(z.string(), z.unknown()).optional(),
    /** The version of the row the device based the change on (update and delete). */
    baseVersion: versionSchema.optional(),
  })
  .strict();
export type UploadOperation = z.infer<typeof uploadOperationSchema>;

/**
 * Body of `POST sync/{org}/upload`. More than {@link MAX_UPLOAD_OPERATIONS} operations is 413 (the
 * batch is answered whole, so the device splits it); the body size bounds the array before that.
 */
export const uploadRequestSchema = z
  .object({
    app: appIdSchema,
    /** The download's device id schema: a device has one id, accepted on both sides. */
    deviceId: deviceIdSchema,
    operations: z.array(uploadOperationSchema),
  })
  .strict();
export type UploadRequest = z.infer<typeof uploadRequestSchema>;

/** Why an operation was refused: a stable code (an `ErrorCode`), a message, and the failing paths. */
export const uploadErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type UploadError = z.infer<typeof uploadErrorSchema>;

/** What one operation came to the first time it was processed. */
export const uploadOutcomeSchema = z.object({
  status: z.enum(['applied', 'conflict', 'rejected']),
  /** applied: the row's new version (absent after a delete); conflict: the server's version. */
  version: z.string().optional(),
  /** applied: the row as stored; conflict: the server's row. Secured columns the user may not read are left out. */
  row: z.record(z.string(), z.unknown()).optional(),
  /** rejected: why. */
  error: uploadErrorSchema.optional(),
});
export type UploadOutcome = z.infer<typeof uploadOutcomeSchema>;

/**
 * One operation's result. `duplicate`: the operation id was seen before; the fields repeat the first
 * result and `original` holds it whole.
 */
export const uploadResultSchema = z.object({
  opId: z.string(),
  status: z.enum(['applied', 'conflict', 'rejected', 'duplicate']),
  version: z.string().optional(),
  row: z.record(z.string(), z.unknown()).optional(),
  error: uploadErrorSchema.optional(),
  original: uploadOutcomeSchema.optional(),
});
export type UploadResult = z.infer<typeof uploadResultSchema>;

/** Response of `POST sync/{org}/upload`: one result per operation, in the order sent. */
export const uploadResponseSchema = z.object({ results: z.array(uploadResultSchema) });
export type UploadResponse = z.infer<typeof uploadResponseSchema>;

/** Error types of the sync error log (as Dynamics' Sync Error table names them, SPEC §6). */
export const syncErrorTypeSchema = z.enum([
  'Conflict',
  'RecordNotFound',
  'PrivilegeDenied',
  'ValidationFailed',
  'Other',
]);
export type SyncErrorType = z.infer<typeof syncErrorTypeSchema>;

/** One entry of the tenant's sync error log: a rejected or conflicting operation. */
export const syncErrorEntrySchema = z.object({
  id: z.string(),
  time: z.iso.datetime(),
  /** systemuser id of the user the operation was made for. */
  userId: z.string(),
  deviceId: z.string(),
  app: z.string(),
  opId: z.string(),
  entity: z.string(),
  recordId: z.string(),
  operation: z.enum(['create', 'update', 'delete']),
  baseVersion: z.string().optional(),
  /** The row (columns) the device sent. */
  data: z.record(z.string(), z.unknown()).optional(),
  errorType: syncErrorTypeSchema,
  /** The result's error code (`Conflict` for a conflict). */
  errorCode: z.string(),
  message: z.string(),
  /** `open` until retried; `resolved` once a retry applied it; `retried` when a retry failed again. */
  state: z.enum(['open', 'retried', 'resolved']),
  /** The result of the latest retry, with when it ran. */
  lastRetry: z.object({ time: z.iso.datetime(), result: uploadOutcomeSchema }).optional(),
});
export type SyncErrorEntry = z.infer<typeof syncErrorEntrySchema>;

/** Query of `GET sync/{org}/errors`. */
export const deviceSyncErrorsQuerySchema = z.object({ deviceId: deviceIdSchema }).strict();

/** Most entries one listing returns. */
export const MAX_SYNC_ERROR_LIST = 1000;

/** Query of `GET admin/{org}/sync-errors`. */
export const syncErrorsListQuerySchema = z
  .object({
    user: safeIdSchema(100).optional(),
    entity: logicalNameSchema.optional(),
    limit: z.coerce.number().int().min(1).max(MAX_SYNC_ERROR_LIST).default(100),
  })
  .strict();
export type SyncErrorsListQuery = z.infer<typeof syncErrorsListQuerySchema>;

/** Response of the sync error listings, newest first. */
export const syncErrorsResponseSchema = z.object({ errors: z.array(syncErrorEntrySchema) });

/** Response of `POST admin/{org}/sync-errors/{errorId}/retry`: the new result and the updated entry. */
export const syncErrorRetryResponseSchema = z.object({
  result: uploadOutcomeSchema,
  entry: syncErrorEntrySchema,
});
