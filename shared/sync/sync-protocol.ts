import * as z from 'zod';
import { appIdSchema } from '../model/app';
import { attributeSchema, logicalNameSchema, ownershipSchema, relationshipSchema } from '../model/entity';

/**
 * The device sync wire protocol of the download side (SPEC §10 `GET sync/{org}/metadata` and
 * `POST sync/{org}/download`): the server validates requests with these schemas and the client SDK
 * imports the same schemas to read responses.
 */

/** Most changes one download page may carry, whatever the device asks. */
export const MAX_DOWNLOAD_PAGE_SIZE = 5000;

/**
 * A download answer with `more: true` also carries its checkpoint in this header, so a device can ask
 * for the next page while this one's body is still on its way (the SDK does). Should this page then
 * be lost, the checkpoint before it is still answered: the server takes both pages back. Absent on
 * the last page. A browser app on another origin reads it only where CORS (set by a proxy in front:
 * the backend sets none) exposes it; without it the SDK asks once the page is parsed.
 */
export const NEXT_CHECKPOINT_HEADER = 'x-sync-next-checkpoint';
/** Page size when the device asks for none. */
export const DEFAULT_DOWNLOAD_PAGE_SIZE = 1000;

/** A device's id: chosen by the device, stable across its syncs. */
export const deviceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/, 'letters, digits, "_", ".", ":" and "-", at most 128');

/** Query of `GET sync/{org}/metadata`. */
export const metadataQuerySchema = z.object({ app: appIdSchema }).strict();
export type MetadataQuery = z.infer<typeof metadataQuerySchema>;

/** One entity of the device's profile, as the device stores it. */
export const syncEntityMetadataSchema = z.object({
  logicalName: logicalNameSchema,
  displayName: z.string().optional(),
  primaryIdAttribute: logicalNameSchema,
  primaryNameAttribute: logicalNameSchema,
  ownership: ownershipSchema,
  /** Every attribute with its `secured` flag; `readable: false` marks secured ones the user may not read. */
  attributes: z.array(attributeSchema.extend({ readable: z.boolean() })),
  /** Relationships whose entities are all in the profile. */
  relationships: z.array(relationshipSchema),
  /** The profile item's own sync interval, when it sets one. */
  syncIntervalSeconds: z.number().int().positive().optional(),
});
export type SyncEntityMetadata = z.infer<typeof syncEntityMetadataSchema>;

/** Body of a `GET sync/{org}/metadata` answer: download it again when `metadataVersion` changes. */
export const syncMetadataResponseSchema = z.object({
  app: appIdSchema,
  profile: z.object({ id: z.string(), name: z.string(), version: z.number().int() }),
  entities: z.array(syncEntityMetadataSchema),
  metadataVersion: z.number().int().nonnegative(),
  profileVersion: z.number().int().nonnegative(),
  directoryVersion: z.number().int().nonnegative(),
  /** How often the device should sync. */
  syncIntervalSeconds: z.number().int().positive(),
});
export type SyncMetadataResponse = z.infer<typeof syncMetadataResponseSchema>;

/**
 * How a download answer carries its rows. `changes` (the default): one object per change, as SPEC §10
 * draws it. `tables`: the same changes by entity and column (see {@link downloadTablesResponseSchema}):
 * attribute names once per page instead of once per row, and each column's values side by side, which
 * is about a third fewer bytes before compression and a fifth fewer after. The SDK asks for `tables`.
 */
export const downloadFormatSchema = z.enum(['changes', 'tables']);
export type DownloadFormat = z.infer<typeof downloadFormatSchema>;

/** Body of `POST sync/{org}/download`. No checkpoint: the first (full) download. */
export const downloadRequestSchema = z
  .object({
    app: appIdSchema,
    deviceId: deviceIdSchema,
    /** The opaque checkpoint of the last page the device applied. */
    checkpoint: z.string().min(1).max(4096).optional(),
    pageSize: z.number().int().min(1).max(MAX_DOWNLOAD_PAGE_SIZE).default(DEFAULT_DOWNLOAD_PAGE_SIZE),
    /** How the answer carries its rows (absent: `changes`); see {@link downloadFormatSchema}. */
    format: downloadFormatSchema.optional(),
  })
  .strict();
export type DownloadRequest = z.infer<typeof downloadRequestSchema>;

/** One change for the device: upsert a row (with its visible columns) or remove it. */
export const downloadChangeSchema = z.object({
  entity: logicalNameSchema,
  id: z.string(),
  op: z.enum(['upsert', 'remove']),
  /** The row's version (for `remove`: the version the device held). */
  version: z.string(),
  row: z.record(z.string(), z.unknown()).optional(),
});
export type DownloadChange = z.infer<typeof downloadChangeSchema>;

/** A warning of a download answer (e.g. the soft row limit is passed). */
export const downloadWarningSchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type DownloadWarning = z.infer<typeof downloadWarningSchema>;

/** Body of a `POST sync/{org}/download` answer. */
export const downloadResponseSchema = z.object({
  changes: z.array(downloadChangeSchema),
  /** Present it on the next call, once this page is applied. */
  checkpoint: z.string(),
  /** True when more pages of this sync follow: call again at once. */
  more: z.boolean(),
  /** Rows of this sync sent so far, of how many. */
  progress: z.object({
    done: z.number().int().nonnegative(),
    total: z.number().int().nonnegative(),
    percent: z.number().int().min(0).max(100),
  }),
  warnings: z.array(downloadWarningSchema).optional(),
  /** When to sync next, in seconds. */
  nextSyncSeconds: z.number().int().positive(),
});
export type DownloadResponse = z.infer<typeof downloadResponseSchema>;

/**
 * Upserts of one entity in a `tables` page, column by column: row `r` is `ids[r]` at `versions[r]`,
 * and its attribute `columns[c]` is `values[c][r]`. The rows of a table carry exactly its columns; rows
 * of the entity that carry other attributes come in another table of the same entity.
 */
export const downloadTableSchema = z.object({
  entity: logicalNameSchema,
  columns: z.array(z.string()),
  ids: z.array(z.string()),
  versions: z.array(z.string()),
  values: z.array(z.array(z.unknown())),
});
export type DownloadTable = z.infer<typeof downloadTableSchema>;

/** A removal of a `tables` page: the row leaves the device (`version`: the version it held). */
export const downloadRemovalSchema = z.object({
  entity: logicalNameSchema,
  id: z.string(),
  version: z.string(),
});
export type DownloadRemoval = z.infer<typeof downloadRemovalSchema>;

/** Body of a `POST sync/{org}/download` answer asked for with `format: "tables"`. */
export const downloadTablesResponseSchema = downloadResponseSchema.omit({ changes: true }).extend({
  format: z.literal('tables'),
  /** Removals of the page; a page never both removes and upserts one row. */
  removals: z.array(downloadRemovalSchema),
  /** Upserts of the page, by entity and the attributes the rows carry. */
  tables: z.array(downloadTableSchema),
});
export type DownloadTablesResponse = z.infer<typeof downloadTablesResponseSchema>;
