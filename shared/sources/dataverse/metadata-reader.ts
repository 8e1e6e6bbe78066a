import { z } from 'zod';
import { AppError } from '../../errors';
import { entityMetadataSchema, logicalNameSchema } from '../../model/entity';
import type { Attribute, AttributeType, EntityMetadata, Ownership, Relationship } from '../../model/entity';
import type { EntitySetCatalog } from './entity-set-catalog';
import type { DataverseHttpClient } from './web-api-client';
import { webApiFailure } from './web-api-client';

/**
 * Reads entity metadata from `EntityDefinitions` (reference §2) into our EntityMetadata: one request
 * per entity for its properties, common attribute properties and the three relationship collections,
 * plus type-cast requests for what only derived attribute types carry (string and memo `MaxLength`,
 * lookup `Targets`, integer `Format` to spot language columns). Metadata is not paged.
 */

const labelSchema = z
  .object({ UserLocalizedLabel: z.object({ Label: z.string() }).loose().nullable().optional() })
  .loose()
  .nullable()
  .optional();

const attributeDefinitionSchema = z
  .object({
    LogicalName: z.string(),
    AttributeType: z.string().nullable().optional(),
    AttributeOf: z.string().nullable().optional(),
    IsSecured: z.boolean().nullable().optional(),
    /** False for columns no read returns (a `$select` naming one is refused). */
    IsValidForRead: z.boolean().nullable().optional(),
    RequiredLevel: z.object({ Value: z.string() }).loose().nullable().optional(),
  })
  .loose();

const lookupRelationshipDefinitionSchema = z
  .object({
    SchemaName: z.string(),
    ReferencedEntity: z.string(),
    ReferencedAttribute: z.string(),
    ReferencingEntity: z.string(),
    ReferencingAttribute: z.string(),
  })
  .loose();

const manyToManyDefinitionSchema = z
  .object({
    SchemaName: z.string(),
    IntersectEntityName: z.string(),
    Entity1LogicalName: z.string(),
    Entity1IntersectAttribute: z.string(),
    Entity2LogicalName: z.string(),
    Entity2IntersectAttribute: z.string(),
  })
  .loose();

/** An `EntityDefinitions(...)` response with the expansions this reader asks for. */
export const entityDefinitionSchema = z
  .object({
    LogicalName: z.string(),
    EntitySetName: z.string().nullable().optional(),
    PrimaryIdAttribute: z.string().nullable().optional(),
    PrimaryNameAttribute: z.string().nullable().optional(),
    OwnershipType: z.string().nullable().optional(),
    IsIntersect: z.boolean().nullable().optional(),
    ChangeTrackingEnabled: z.boolean().nullable().optional(),
    DisplayName: labelSchema,
    Attributes: z.array(attributeDefinitionSchema).default([]),
    OneToManyRelationships: z.array(lookupRelationshipDefinitionSchema).default([]),
    ManyToOneRelationships: z.array(lookupRelationshipDefinitionSchema).default([]),
    ManyToManyRelationships: z.array(manyToManyDefinitionSchema).default([]),
  })
  .loose();
export type EntityDefinition = z.infer<typeof entityDefinitionSchema>;

const castValueSchema = z.object({
  value: z.array(
    z
      .object({
        LogicalName: z.string(),
        MaxLength: z.number().int().nullable().optional(),
        Targets: z.array(z.string()).nullable().optional(),
        Format: z.string().nullable().optional(),
      })
      .loose(),
  ),
});

const entityListSchema = z.object({
  value: z.array(
    z
      .object({
        LogicalName: z.string(),
        IsIntersect: z.boolean().nullable().optional(),
        ChangeTrackingEnabled: z.boolean().nullable().optional(),
      })
      .loose(),
  ),
});

/** Dataverse `OwnershipTypes` names → our ownership (user- and team-owned tables are both `user`). */
export function mapOwnership(ownershipType: string | null | undefined): Ownership {
  switch (ownershipType) {
    case 'UserOwned':
    case 'TeamOwned':
      return 'user';
    case 'OrganizationOwned':
      return 'organization';
    case 'BusinessOwned':
    case 'BusinessParented':
      return 'business';
    default:
      return 'none';
  }
}

/**
 * Dataverse `AttributeType` → our attribute type; undefined for types that hold no row value we sync
 * (Virtual: images, files, multi-select; PartyList, CalendarRules, ManagedProperty).
 */
export function mapAttributeType(
  attributeType: string | null | undefined,
  format?: string | null,
): AttributeType | undefined {
  switch (attributeType) {
    case 'String':
    case 'EntityName':
      return 'string';
    case 'Memo':
      return 'memo';
    case 'Integer':
      return format === 'Language' ? 'language' : 'integer';
    case 'BigInt':
      return 'bigint';
    case 'Decimal':
      return 'decimal';
    case 'Double':
      return 'double';
    case 'Money':
      return 'money';
    case 'Boolean':
      return 'boolean';
    case 'DateTime':
      return 'datetime';
    case 'Uniqueidentifier':
      return 'uniqueidentifier';
    case 'Lookup':
    case 'Customer':
      return 'lookup';
    case 'Owner':
      return 'owner';
    case 'Picklist':
    case 'State':
    case 'Status':
      return 'picklist';
    default:
      return undefined;
  }
}

interface AttributeExtras {
  maxLength?: number;
  targets?: string[];
  format?: string;
}

/** Maps one definition (and the cast extras) to EntityMetadata; validated with the model schema. */
export function toEntityMetadata(
  definition: EntityDefinition,
  extras: Map<string, AttributeExtras>,
): EntityMetadata {
  const isLogicalName = (name: string) => logicalNameSchema.safeParse(name).success;
  const attributes: Attribute[] = [];
  for (const a of definition.Attributes) {
    const extra = extras.get(a.LogicalName) ?? {};
    const type = mapAttributeType(a.AttributeType, extra.format);
    // Derived columns (`owneridname`, `…yominame`) repeat their parent; `owneridtype` is kept as the
    // owner's type column, which rows carry.
    if (type === undefined || !isLogicalName(a.LogicalName)) continue;
    if (a.AttributeOf && a.AttributeType !== 'EntityName') continue;
    // Holds nothing a read returns (and replication reads select the metadata's columns).
    if (a.IsValidForRead === false) continue;
    const required =
      a.RequiredLevel?.Value === 'SystemRequired' || a.RequiredLevel?.Value === 'ApplicationRequired';
    attributes.push({
      name: a.LogicalName,
      type,
      ...(extra.maxLength !== undefined && extra.maxLength > 0 && (type === 'string' || type === 'memo')
        ? { maxLength: extra.maxLength }
        : {}),
      required,
      ...(extra.targets && (type === 'lookup' || type === 'owner')
        ? { targets: extra.targets.filter(isLogicalName) }
        : {}),
      secured: a.IsSecured === true,
    });
  }

  const relationships: Relationship[] = [];
  const lookup = (
    kind: 'one-to-many' | 'many-to-one',
    r: z.infer<typeof lookupRelationshipDefinitionSchema>,
  ) => {
    const names = [r.ReferencedEntity, r.ReferencedAttribute, r.ReferencingEntity, r.ReferencingAttribute];
    if (!names.every(isLogicalName)) return;
    relationships.push({
      name: r.SchemaName,
      kind,
      referencedEntity: r.ReferencedEntity,
      referencedAttribute: r.ReferencedAttribute,
      referencingEntity: r.ReferencingEntity,
      referencingAttribute: r.ReferencingAttribute,
    });
  };
  definition.OneToManyRelationships.forEach((r) => lookup('one-to-many', r));
  definition.ManyToOneRelationships.forEach((r) => lookup('many-to-one', r));
  for (const r of definition.ManyToManyRelationships) {
    const names = [
      r.IntersectEntityName,
      r.Entity1LogicalName,
      r.Entity1IntersectAttribute,
      r.Entity2LogicalName,
      r.Entity2IntersectAttribute,
    ];
    if (!names.every(isLogicalName)) continue;
    relationships.push({
      name: r.SchemaName,
      kind: 'many-to-many',
      intersectEntity: r.IntersectEntityName,
      entity1: r.Entity1LogicalName,
      entity1Attribute: r.Entity1IntersectAttribute,
      entity2: r.Entity2LogicalName,
      entity2Attribute: r.Entity2IntersectAttribute,
    });
  }

  const primaryId = definition.PrimaryIdAttribute ?? '';
  const displayName = definition.DisplayName?.UserLocalizedLabel?.Label;
  const parsed = entityMetadataSchema.safeParse({
    logicalName: definition.LogicalName,
    ...(displayName ? { displayName: displayName.slice(0, 200) } : {}),
    primaryIdAttribute: primaryId,
    // Intersect and some system tables have no primary name: the id stands in for it.
    primaryNameAttribute: definition.PrimaryNameAttribute ?? primaryId,
    ownership: mapOwnership(definition.OwnershipType),
    attributes,
    relationships,
  });
  if (!parsed.success) {
    throw new AppError(
      'SourceUnavailable',
      `Dataverse metadata of ${definition.LogicalName} cannot be used.`,
      {
        details: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      },
    );
  }
  return parsed.data;
}

const ENTITY_SELECT =
  'LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,OwnershipType,IsIntersect,ChangeTrackingEnabled,DisplayName';
const ENTITY_EXPAND = [
  'Attributes($select=LogicalName,AttributeType,AttributeOf,IsSecured,IsValidForRead,RequiredLevel)',
  'OneToManyRelationships($select=SchemaName,ReferencedEntity,ReferencedAttribute,ReferencingEntity,ReferencingAttribute)',
  'ManyToOneRelationships($select=SchemaName,ReferencedEntity,ReferencedAttribute,ReferencingEntity,ReferencingAttribute)',
  'ManyToManyRelationships($select=SchemaName,IntersectEntityName,Entity1LogicalName,Entity1IntersectAttribute,Entity2LogicalName,Entity2IntersectAttribute)',
].join(',');
const CASTS: { type: string; select: string }[] = [
  { type: 'StringAttributeMetadata', select: 'LogicalName,MaxLength' },
  { type: 'MemoAttributeMetadata', select: 'LogicalName,MaxLength' },
  { type: 'LookupAttributeMetadata', select: 'LogicalName,Targets' },
  { type: 'IntegerAttributeMetadata', select: 'LogicalName,Format' },
];

/**
 * Reads the metadata of the named entities (those the source lacks are left out), or, with no
 * names, of every table that has change tracking on and is not an intersect table (only those can
 * be replicated incrementally).
 */
export async function readEntityMetadata(
  client: DataverseHttpClient,
  catalog: EntitySetCatalog,
  entities: readonly string[] | undefined,
): Promise<EntityMetadata[]> {
  const names = entities ?? (await listTrackedEntities(client));
  const result: EntityMetadata[] = [];
  // A few at a time: metadata responses are large and count against service protection limits.
  for (let i = 0; i < names.length; i += 4) {
    const batch = await Promise.all(names.slice(i, i + 4).map((name) => readOne(client, catalog, name)));
    for (const metadata of batch) if (metadata) result.push(metadata);
  }
  return result;
}

async function listTrackedEntities(client: DataverseHttpClient): Promise<string[]> {
  const response = await client.send({
    path: 'EntityDefinitions?$select=LogicalName,IsIntersect,ChangeTrackingEnabled',
  });
  const parsed = entityListSchema.safeParse(response.body);
  if (!parsed.success)
    throw new AppError('SourceUnavailable', 'Dataverse answered an entity list that is not valid.');
  return parsed.data.value
    .filter((e) => e.IsIntersect !== true && e.ChangeTrackingEnabled === true)
    .map((e) => e.LogicalName)
    .sort();
}

async function readOne(
  client: DataverseHttpClient,
  catalog: EntitySetCatalog,
  logicalName: string,
): Promise<EntityMetadata | undefined> {
  if (!logicalNameSchema.safeParse(logicalName).success) {
    throw new AppError('ValidationFailed', `Not an entity logical name: ${logicalName}`);
  }
  const base = `EntityDefinitions(LogicalName='${logicalName}')`;
  let body: unknown;
  try {
    body = (await client.send({ path: `${base}?$select=${ENTITY_SELECT}&$expand=${ENTITY_EXPAND}` })).body;
  } catch (error) {
    // "When the source has them": an entity the environment lacks is simply not there.
    if (webApiFailure(error)?.status === 404) return undefined;
    throw error;
  }
  const parsed = entityDefinitionSchema.safeParse(body);
  if (!parsed.success) {
    throw new AppError('SourceUnavailable', `Dataverse metadata of ${logicalName} is not valid.`, {
      details: parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  if (parsed.data.EntitySetName) catalog.remember(logicalName, parsed.data.EntitySetName);

  const extras = new Map<string, AttributeExtras>();
  const casts = await Promise.all(
    CASTS.map((cast) =>
      client.send({ path: `${base}/Attributes/Microsoft.Dynamics.CRM.${cast.type}?$select=${cast.select}` }),
    ),
  );
  for (const response of casts) {
    const values = castValueSchema.safeParse(response.body);
    if (!values.success)
      throw new AppError('SourceUnavailable', `Dataverse attributes of ${logicalName} are not valid.`);
    for (const v of values.data.value) {
      const extra = extras.get(v.LogicalName) ?? {};
      if (typeof v.MaxLength === 'number') extra.maxLength = v.MaxLength;
      if (v.Targets) extra.targets = v.Targets;
      if (v.Format) extra.format = v.Format;
      extras.set(v.LogicalName, extra);
    }
  }
  return toEntityMetadata(parsed.data, extras);
}
