import { z } from 'zod';
import { safeIdSchema } from './safe-text';

/** Default of {@link TenantSettings.maxRelationshipsPerItem} (SPEC §4; current Power Apps uses 15). */
export const DEFAULT_MAX_RELATIONSHIPS_PER_ITEM = 10;
/** Default of {@link TenantSettings.maxOneToManyPerItem} (SPEC §4; current Power Apps uses 1). */
export const DEFAULT_MAX_ONE_TO_MANY_PER_ITEM = 3;

/** The largest hard row limit a tenant may set. */
export const MAX_HARD_ROW_LIMIT = 2_000_000;

/** Field shapes of the tenant settings, without defaults or cross-field rules (for partial updates). */
export const tenantSettingsFieldsSchema = z
  .object({
    /** Off (the default, as in Dynamics): the client wins column by column. On: the server wins. */
    conflictDetection: z.boolean(),
    /** How often devices sync by default: 5 minutes to 1 day. */
    syncIntervalSeconds: z.number().int().min(300).max(86_400),
    /** Past this many rows a user's download is warned about. */
    softRowLimit: z.number().int().positive().max(MAX_HARD_ROW_LIMIT),
    /**
     * Past this many rows a user's download is refused. At most 2,000,000: the device state's held
     * buckets are sized by the set to stay far below Cosmos DB's 2 MB per item (docs/sync-cost.md).
     */
    hardRowLimit: z.number().int().positive().max(MAX_HARD_ROW_LIMIT),
    /** At most this many associations per profile item. */
    maxRelationshipsPerItem: z.number().int().min(1).max(100),
    /** Of those, at most this many one-to-many or many-to-many. */
    maxOneToManyPerItem: z.number().int().min(0).max(100),
    /**
     * Dataverse tenants: the name (entity alias) of the post image registered on the webhook's steps,
     * for steps that register several. Null: the only registered image is used.
     */
    dataversePostImageName: safeIdSchema(100).nullable(),
  })
  .strict();

/** Body of `PUT admin/{org}/settings`: any subset of the settings; the rest keep their values. */
export const tenantSettingsUpdateSchema = tenantSettingsFieldsSchema.partial();
export type TenantSettingsUpdate = z.infer<typeof tenantSettingsUpdateSchema>;

/** A tenant's offline settings (SPEC §4, §6), as stored and as `GET admin/{org}/settings` answers. */
export const tenantSettingsSchema = z
  .object({
    conflictDetection: tenantSettingsFieldsSchema.shape.conflictDetection.default(false),
    syncIntervalSeconds: tenantSettingsFieldsSchema.shape.syncIntervalSeconds.default(900),
    softRowLimit: tenantSettingsFieldsSchema.shape.softRowLimit.default(10_000),
    hardRowLimit: tenantSettingsFieldsSchema.shape.hardRowLimit.default(50_000),
    maxRelationshipsPerItem: tenantSettingsFieldsSchema.shape.maxRelationshipsPerItem.default(
      DEFAULT_MAX_RELATIONSHIPS_PER_ITEM,
    ),
    maxOneToManyPerItem: tenantSettingsFieldsSchema.shape.maxOneToManyPerItem.default(
      DEFAULT_MAX_ONE_TO_MANY_PER_ITEM,
    ),
    dataversePostImageName: tenantSettingsFieldsSchema.shape.dataversePostImageName.default(null),
  })
  .strict()
  .refine((s) => s.softRowLimit <= s.hardRowLimit, {
    path: ['softRowLimit'],
    message: 'must not exceed hardRowLimit',
  })
  .refine((s) => s.maxOneToManyPerItem <= s.maxRelationshipsPerItem, {
    path: ['maxOneToManyPerItem'],
    message: 'must not exceed maxRelationshipsPerItem',
  });
export type TenantSettings = z.infer<typeof tenantSettingsSchema>;

/** The settings of a tenant that never set any. */
export const defaultTenantSettings: TenantSettings = tenantSettingsSchema.parse({});
