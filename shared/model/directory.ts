import { z } from 'zod';

/** Per-entity privileges of a security role (SPEC §5). */
export const privilegeSchema = z.enum(['create', 'read', 'write', 'delete', 'append', 'appendTo']);
export type Privilege = z.infer<typeof privilegeSchema>;

/** Access levels, narrowest first. */
export const accessLevelSchema = z.enum(['none', 'user', 'businessUnit', 'parentChild', 'organization']);
export type AccessLevel = z.infer<typeof accessLevelSchema>;

/** The pseudo-entity whose Read privilege lets a user sync at all. */
export const OFFLINE_PROFILE_ENTITY = 'mobileofflineprofile';

const idSchema = z.string().min(1).max(100);

export const businessUnitSchema = z
  .object({ id: idSchema, name: z.string().min(1), parentId: idSchema.nullable() })
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
    securedColumns: z.array(z.string()).default([]),
  })
  .strict();
export type DirectoryUser = z.infer<typeof directoryUserSchema>;

export const teamSchema = z
  .object({
    id: idSchema,
    name: z.string().min(1),
    businessUnitId: idSchema,
    memberIds: z.array(idSchema).default([]),
    roleIds: z.array(idSchema).default([]),
  })
  .strict();
export type Team = z.infer<typeof teamSchema>;

export const roleSchema = z
  .object({
    id: idSchema,
    name: z.string().min(1),
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
