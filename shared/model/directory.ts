import { z } from 'zod';
import { safeIdSchema, safeNameSchema } from './safe-text';

/** Per-entity privileges of a security role (SPEC §5). */
export const privilegeSchema = z.enum(['create', 'read', 'write', 'delete', 'append', 'appendTo']);
export type Privilege = z.infer<typeof privilegeSchema>;

/** Access levels, narrowest first. */
export const accessLevelSchema = z.enum(['none', 'user', 'businessUnit', 'parentChild', 'organization']);
export type AccessLevel = z.infer<typeof accessLevelSchema>;

/** The pseudo-entity whose Read privilege lets a user sync at all. */
export const OFFLINE_PROFILE_ENTITY = 'mobileofflineprofile';

/** Ids of directory items: safe text, whichever source chose them (Dataverse's are GUIDs). */
const idSchema = safeIdSchema(100);

/**
 * Names of directory items as the source holds them (Dataverse allows 160 characters). What an
 * admin may declare is stricter: {@link directoryInputSchema}.
 */
const sourceNameSchema = z.string().min(1).max(200);

export const businessUnitSchema = z
  .object({ id: idSchema, name: sourceNameSchema, parentId: idSchema.nullable() })
  .strict();
export type BusinessUnit = z.infer<typeof businessUnitSchema>;

export const directoryUserSchema = z
  .object({
    /** The systemuserid. */
    id: idSchema,
    /** Microsoft Entra object id: the `oid` claim of the user's tokens. */
    entraObjectId: z.uuid(),
    userName: z.string().min(1).max(200),
    fullName: z.string().min(1).max(200),
    businessUnitId: idSchema,
    managerId: idSchema.nullable().default(null),
    /** UI language (LCID) for `eq-userlanguage`. */
    languageId: z.number().int().positive().default(1033),
    roleIds: z.array(idSchema).default([]),
    /** Secured columns this user may read, as `entity.attribute`. */
    securedColumns: z.array(z.string().max(201)).default([]),
  })
  .strict();
export type DirectoryUser = z.infer<typeof directoryUserSchema>;

export const teamSchema = z
  .object({
    id: idSchema,
    name: sourceNameSchema,
    businessUnitId: idSchema,
    memberIds: z.array(idSchema).default([]),
    roleIds: z.array(idSchema).default([]),
  })
  .strict();
export type Team = z.infer<typeof teamSchema>;

export const roleSchema = z
  .object({
    id: idSchema,
    name: sourceNameSchema,
    /** entity logical name → privilege → access level; missing means none. */
    privileges: z.record(z.string(), z.partialRecord(privilegeSchema, accessLevelSchema)),
  })
  .strict();
export type Role = z.infer<typeof roleSchema>;

/** The tenant's directory: replaced whole for `local` sources, replicated for `dataverse`. */
export const directorySchema = z
  .object({
    businessUnits: z.array(businessUnitSchema).min(1),
    users: z.array(directoryUserSchema),
    teams: z.array(teamSchema).default([]),
    roles: z.array(roleSchema).default([]),
  })
  .strict();
export type Directory = z.infer<typeof directorySchema>;

/**
 * Body of `PUT admin/{org}/directory` (`local` sources): the directory with names of safe text
 * (no control characters, bidirectional overrides or lone surrogates) and secured columns as
 * `entity.attribute`. A replicated directory keeps its source's names ({@link directorySchema}).
 */
export const directoryInputSchema = directorySchema.extend({
  businessUnits: z.array(businessUnitSchema.extend({ name: safeNameSchema(200) })).min(1),
  users: z.array(
    directoryUserSchema.extend({
      userName: safeNameSchema(200),
      fullName: safeNameSchema(200),
      securedColumns: z.array(safeIdSchema(201)).default([]),
    }),
  ),
  teams: z.array(teamSchema.extend({ name: safeNameSchema(200) })).default([]),
  roles: z
    .array(
      roleSchema.extend({
        name: safeNameSchema(200),
        privileges: z.record(safeIdSchema(100), z.partialRecord(privilegeSchema, accessLevelSchema)),
      }),
    )
    .default([]),
});
