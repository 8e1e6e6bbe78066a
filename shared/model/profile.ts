import { z } from 'zod';
import { logicalNameSchema } from './entity';
import { filterTreeSchema } from './filter-tree';
import { safeIdSchema, safeMultilineTextSchema, safeNameSchema, safeTextRefinement } from './safe-text';

/** Most users one profile may hold (SPEC §4). */
export const MAX_PROFILE_USERS = 1000;
/** Bounds of an item's own sync interval, in minutes (SPEC §4; Dataverse `syncintervalinminutes`). */
export const MIN_ITEM_SYNC_INTERVAL_MINUTES = 5;
export const MAX_ITEM_SYNC_INTERVAL_MINUTES = 1440;

/** A profile's id: letters, digits, `_` and `-` (a UUID when the server chooses it). */
export const profileIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, 'letters, digits, "_" and "-", at most 100');

/**
 * Which rows of an item's entity go offline (SPEC §4): `related` rows reached through associations
 * only, `all` rows, or `other`: mine / my teams' / my business unit's rows and/or a custom filter.
 */
export const profileItemRuleSchema = z.enum(['related', 'all', 'other']);
export type ProfileItemRule = z.infer<typeof profileItemRuleSchema>;

/** One relationship from the item's entity to another entity of the profile whose related rows go too. */
export const profileAssociationSchema = z
  .object({
    /** The relationship's name, as in the entity's metadata. */
    relationship: safeNameSchema(200),
  })
  .strict();
export type ProfileAssociation = z.infer<typeof profileAssociationSchema>;

/**
 * One entity of a profile. Only the shape is checked here; the rules (which options a rule and an
 * ownership type allow, filter limits, association limits) are checked by `validateProfile`, so that
 * a publish can answer every violation at once with its path.
 */
export const profileItemSchema = z
  .object({
    entity: logicalNameSchema,
    rule: profileItemRuleSchema,
    /** `other`: rows owned by the user. */
    mine: z.boolean().default(false),
    /** `other`: rows owned by a team the user belongs to. */
    team: z.boolean().default(false),
    /** `other`: rows owned within the user's business unit. */
    businessUnit: z.boolean().default(false),
    /** `other`: an and/or condition tree (at most 3 conditions, 3 levels). */
    customFilter: filterTreeSchema.optional(),
    associations: z.array(profileAssociationSchema).max(100).default([]),
    /** The item's own sync interval (5 to 1,440 minutes); the tenant default when absent. */
    syncIntervalMinutes: z.number().int().optional(),
  })
  .strict();
export type ProfileItem = z.infer<typeof profileItemSchema>;

/** A profile's name as admins see it: trimmed, 1 to 200 safe characters. */
const profileNameSchema = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine(...safeTextRefinement);

/** A profile's description: several lines of safe text, at most 2,000 characters. */
const profileDescriptionSchema = safeMultilineTextSchema(2000).default('');

/** Body of `POST admin/{org}/profiles`. */
export const profileCreateSchema = z
  .object({
    /** Optional: the server chooses a UUID when absent. */
    id: profileIdSchema.optional(),
    name: profileNameSchema,
    description: profileDescriptionSchema,
  })
  .strict();
export type ProfileCreate = z.infer<typeof profileCreateSchema>;

/** The editable content of a profile: body of `PUT admin/{org}/profiles/{id}` (whole document). */
export const profileContentSchema = z
  .object({
    name: profileNameSchema,
    description: profileDescriptionSchema,
    items: z.array(profileItemSchema).max(500).default([]),
    /** systemuser ids. At most 1,000 (checked by `validateProfile`). */
    users: z.array(safeIdSchema(100)).max(10_000).default([]),
  })
  .strict();
export type ProfileContent = z.infer<typeof profileContentSchema>;

/** A profile's draft as stored: what admins edit. Devices use only published versions. */
export const profileDraftSchema = profileContentSchema.extend({
  id: profileIdSchema,
  /** The latest published version (0: never published). */
  publishedVersion: z.number().int().nonnegative(),
  /** True when the draft differs from the latest published version. */
  changedSincePublish: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type ProfileDraft = z.infer<typeof profileDraftSchema>;

/** An immutable published version of a profile: what the sync engine compiles. */
export const publishedProfileSchema = profileContentSchema.extend({
  id: profileIdSchema,
  version: z.number().int().positive(),
  publishedAt: z.iso.datetime(),
});
export type PublishedProfile = z.infer<typeof publishedProfileSchema>;

/** One rule violation of a profile or configuration document: where, a stable code, and what. */
export const violationSchema = z.object({
  path: z.string(),
  code: z.string(),
  message: z.string(),
});
export type Violation = z.infer<typeof violationSchema>;
