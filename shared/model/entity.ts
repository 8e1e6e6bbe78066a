import * as z from 'zod';
import { conditionSchema } from './condition';
import { safeNameSchema } from './safe-text';

/** An entity's or attribute's logical name, as in Dataverse: lower-case, starts with a letter. */
export const logicalNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9_]{0,99}$/, 'lower-case letters, digits and underscores, starting with a letter');

/** Who owns an entity's rows (SPEC §3); decides which profile rules are allowed. */
export const ownershipSchema = z.enum(['user', 'organization', 'business', 'none']);
export type Ownership = z.infer<typeof ownershipSchema>;

export const attributeTypeSchema = z.enum([
  'string',
  'memo',
  'integer',
  'bigint',
  'decimal',
  'double',
  'money',
  'boolean',
  'datetime',
  'uniqueidentifier',
  'lookup',
  'owner',
  'picklist',
  'language',
]);
export type AttributeType = z.infer<typeof attributeTypeSchema>;

export const attributeSchema = z
  .object({
    name: logicalNameSchema,
    type: attributeTypeSchema,
    /** For string and memo attributes. */
    maxLength: z.number().int().positive().optional(),
    required: z.boolean().default(false),
    /** Entities a lookup or owner attribute may point at. */
    targets: z.array(logicalNameSchema).optional(),
    /** Secured (field security) columns are never sent to users without access. */
    secured: z.boolean().default(false),
  })
  .strict();
export type Attribute = z.infer<typeof attributeSchema>;

/** One-to-many and many-to-one: the referencing entity's lookup points at the referenced entity. */
const lookupRelationshipSchema = z
  .object({
    name: safeNameSchema(200),
    kind: z.enum(['one-to-many', 'many-to-one']),
    referencedEntity: logicalNameSchema,
    referencedAttribute: logicalNameSchema,
    referencingEntity: logicalNameSchema,
    referencingAttribute: logicalNameSchema,
  })
  .strict();

const manyToManyRelationshipSchema = z
  .object({
    name: safeNameSchema(200),
    kind: z.literal('many-to-many'),
    /** The intersect entity whose rows pair the two sides. */
    intersectEntity: logicalNameSchema,
    entity1: logicalNameSchema,
    entity1Attribute: logicalNameSchema,
    entity2: logicalNameSchema,
    entity2Attribute: logicalNameSchema,
  })
  .strict();

export const relationshipSchema = z.discriminatedUnion('kind', [
  lookupRelationshipSchema,
  manyToManyRelationshipSchema,
]);
export type Relationship = z.infer<typeof relationshipSchema>;

/**
 * An entity's metadata (SPEC §3): declared for `local` sources, read from Dataverse otherwise. The
 * display name is the source's label as it is; {@link entityMetadataInputSchema} is what an admin may declare.
 */
export const entityMetadataSchema = z
  .object({
    logicalName: logicalNameSchema,
    displayName: z.string().min(1).max(200).optional(),
    primaryIdAttribute: logicalNameSchema,
    primaryNameAttribute: logicalNameSchema,
    ownership: ownershipSchema,
    attributes: z.array(attributeSchema).min(1),
    relationships: z.array(relationshipSchema).default([]),
  })
  .strict();
export type EntityMetadata = z.infer<typeof entityMetadataSchema>;

/** Metadata an admin declares (`PUT admin/{org}/entities/{entity}`): a display name of safe text. */
export const entityMetadataInputSchema = entityMetadataSchema.extend({
  displayName: safeNameSchema(200).optional(),
});

/** An entity's offline settings: enabled, and the org-wide download filter (at most 3 conditions). */
export const entityOfflineSettingsSchema = z
  .object({
    enabled: z.boolean(),
    orgFilter: z.array(conditionSchema).max(3).default([]),
    /** Devices may start once required entities (and the directory) are downloaded (SPEC §8). */
    required: z.boolean().default(false),
  })
  .strict();
export type EntityOfflineSettings = z.infer<typeof entityOfflineSettingsSchema>;

/** Entities offline-enabled by default when the source has them (SPEC §3). */
export const defaultOfflineEntities: readonly string[] = [
  'account',
  'activitypointer',
  'appointment',
  'activitymimeattachment',
  'annotation',
  'incident',
  'competitor',
  'competitoraddress',
  'connection',
  'connectionrole',
  'contact',
  'email',
  'entitlement',
  'lead',
  'opportunity',
  'opportunityproduct',
  'phonecall',
  'position',
  'product',
  'queueitem',
  'slakpiinstance',
  'task',
  'team',
  'systemuser',
  'transactioncurrency',
];
