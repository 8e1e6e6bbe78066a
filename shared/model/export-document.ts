import { z } from 'zod';
import { entityOfflineSettingsSchema, logicalNameSchema } from './entity';
import { profileContentSchema, profileIdSchema } from './profile';
import { safeNameSchema } from './safe-text';

/** The export format this server writes; import accepts exactly this version. */
export const EXPORT_FORMAT_VERSION = 1;

/** A profile in an export document: its draft content without users (users belong to one tenant). */
export const exportedProfileSchema = profileContentSchema
  .omit({ users: true })
  .extend({ id: profileIdSchema });
export type ExportedProfile = z.infer<typeof exportedProfileSchema>;

/** The offline settings of an entity a profile of the document uses. */
export const exportedEntitySettingsSchema = z
  .object({ entity: logicalNameSchema, offline: entityOfflineSettingsSchema })
  .strict();
export type ExportedEntitySettings = z.infer<typeof exportedEntitySettingsSchema>;

/**
 * The document of `GET admin/{org}/export` and `POST admin/{org}/import` (SPEC §4): profiles with the
 * entity offline settings they depend on. Imported profiles arrive unpublished.
 */
export const exportDocumentSchema = z
  .object({
    formatVersion: z.literal(EXPORT_FORMAT_VERSION),
    exportedAt: z.iso.datetime().optional(),
    /** The org the document was exported from (informational). */
    sourceOrg: safeNameSchema(100).optional(),
    profiles: z.array(exportedProfileSchema).max(1000),
    entities: z.array(exportedEntitySettingsSchema).max(5000),
  })
  .strict();
export type ExportDocument = z.infer<typeof exportDocumentSchema>;
