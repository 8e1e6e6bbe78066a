import * as z from 'zod';
import { safeIdSchema, safeTextRefinement } from './safe-text';

/** An app module's id: letters, digits, `_`, `-` and `.` (e.g. `field-service`). */
export const appIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'letters, digits, "_", "-" and ".", at most 100');

/** Body of `PUT admin/{org}/apps/{appId}`: an app module and the offline profiles it uses (SPEC §4). */
export const appConfigInputSchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .refine(...safeTextRefinement),
    offlineEnabled: z.boolean(),
    /** Ids of published profiles; at least one when offline is enabled. */
    profiles: z.array(safeIdSchema(100)).max(100).default([]),
  })
  .strict();
export type AppConfigInput = z.infer<typeof appConfigInputSchema>;

/** An app module as stored and returned. */
export const appConfigSchema = appConfigInputSchema.extend({
  id: appIdSchema,
  updatedAt: z.iso.datetime(),
});
export type AppConfig = z.infer<typeof appConfigSchema>;
