/**
 * The messages between the browser store (`web-local-store.ts`, on the page) and its worker
 * (`web-store-worker.ts`, SQLite in WebAssembly on OPFS). The page sends one request at a time per
 * transaction call and waits for its answer; the worker checks every request with these schemas
 * before any of it reaches SQL, and the page checks every answer's envelope.
 *
 * ```
 * page                                   worker
 *  open {name, indexes}          ─────▶  install opfs-sahpool (or fall back), open the file
 *                                ◀─────  {persistence: 'opfs-sahpool' | 'memory', reason?}
 *  begin                         ─────▶  BEGIN IMMEDIATE
 *  call {method, args} …         ─────▶  one LocalStoreTransaction method, in SQL
 *  commit | rollback             ─────▶  COMMIT | ROLLBACK
 *  close                         ─────▶  close the file, release the OPFS handles
 * ```
 */
import * as z from 'zod';
import { downloadChangeSchema, syncMetadataResponseSchema } from '../shared/sync/sync-protocol';
import { uploadErrorSchema } from '../shared/sync/upload/upload-protocol';
import { rowQuerySchema } from './query';

const rowDataSchema = z.record(z.string(), z.unknown());
const entitySchema = z.string().regex(/^[a-z][a-z0-9_]{0,99}$/, 'an entity logical name');
const operationSchema = z.enum(['create', 'update', 'delete']);

/** A `LocalRow` as it crosses to the worker. */
export const localRowSchema = z.object({
  entity: entitySchema,
  id: z.string(),
  row: rowDataSchema.nullable(),
  version: z.string().optional(),
  serverRow: rowDataSchema.nullable().optional(),
  pending: z.boolean(),
});

const outboxFields = {
  opId: z.string().min(1),
  entity: entitySchema,
  id: z.string(),
  op: operationSchema,
  row: rowDataSchema.optional(),
  baseVersion: z.string().optional(),
  afterOpId: z.string().optional(),
  createdAt: z.string(),
};
/** An `OutboxEntry` before the store gave it its `seq`. */
export const newOutboxEntrySchema = z.object(outboxFields);
export const outboxEntrySchema = z.object({ ...outboxFields, seq: z.number().int() });

export const localSyncErrorSchema = z.object({
  id: z.string(),
  time: z.string(),
  entity: entitySchema,
  recordId: z.string(),
  op: operationSchema,
  row: rowDataSchema.optional(),
  status: z.enum(['rejected', 'conflict']),
  error: uploadErrorSchema,
});

const call = <M extends string, A extends z.ZodType>(method: M, args: A) =>
  z.object({ op: z.literal('call'), id: z.number().int(), method: z.literal(method), args });

/** One `LocalStoreTransaction` method and its arguments. */
export const webStoreCallSchema = z.discriminatedUnion('method', [
  call('readState', z.tuple([])),
  call('saveCheckpoint', z.tuple([z.string().optional()])),
  call('saveMetadata', z.tuple([syncMetadataResponseSchema])),
  call('getRow', z.tuple([entitySchema, z.string()])),
  call('putRow', z.tuple([localRowSchema])),
  call('deleteRow', z.tuple([entitySchema, z.string()])),
  call('applyServerChanges', z.tuple([z.array(downloadChangeSchema)])),
  call('queryRows', z.tuple([rowQuerySchema])),
  call('listRows', z.tuple([entitySchema])),
  call('listOutbox', z.tuple([z.number().int().nonnegative().optional()])),
  call('outboxOf', z.tuple([entitySchema, z.string()])),
  call('addOutbox', z.tuple([newOutboxEntrySchema])),
  call('updateOutbox', z.tuple([outboxEntrySchema])),
  call('deleteOutbox', z.tuple([z.string()])),
  call('putSyncError', z.tuple([localSyncErrorSchema])),
  call('listSyncErrors', z.tuple([])),
  call('deleteSyncError', z.tuple([z.string()])),
]);
export type WebStoreCall = z.infer<typeof webStoreCallSchema>;
export type WebStoreMethod = WebStoreCall['method'];

/** The name of a database file in the pool (also its OPFS path, `/<name>`). */
export const webStoreNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'a file name');

export const webStoreOpenSchema = z.object({
  op: z.literal('open'),
  id: z.number().int(),
  name: webStoreNameSchema,
  /** Columns to index per entity, as `createSqliteLocalStore`'s `indexes`. */
  indexes: z.record(entitySchema, z.array(z.string())).optional(),
  /** Refuse to open rather than fall back to memory where OPFS is missing. */
  requirePersistence: z.boolean().optional(),
});

/** What the page asks of the worker. */
export const webStoreRequestSchema = z.union([
  webStoreOpenSchema,
  z.object({ op: z.enum(['begin', 'commit', 'rollback', 'close']), id: z.number().int() }),
  webStoreCallSchema,
]);
export type WebStoreRequest = z.infer<typeof webStoreRequestSchema>;

/** Where the worker keeps the data: OPFS through the `opfs-sahpool` VFS, or only in its memory. */
export const webStorePersistenceSchema = z.enum(['opfs-sahpool', 'memory']);
export type WebStorePersistence = z.infer<typeof webStorePersistenceSchema>;

/** The answer to `open`. */
export const webStoreOpenedSchema = z.object({
  persistence: webStorePersistenceSchema,
  /** Why the store is in memory (what was missing), when it is. */
  reason: z.string().optional(),
});
export type WebStoreOpened = z.infer<typeof webStoreOpenedSchema>;

/** The worker's answer to one request (`value` is the method's result, structured-cloned). */
export const webStoreResponseSchema = z.discriminatedUnion('ok', [
  z.object({ id: z.number().int(), ok: z.literal(true), value: z.unknown() }),
  z.object({
    id: z.number().int(),
    ok: z.literal(false),
    error: z.object({ name: z.string(), message: z.string() }),
  }),
]);
export type WebStoreResponse = z.infer<typeof webStoreResponseSchema>;
