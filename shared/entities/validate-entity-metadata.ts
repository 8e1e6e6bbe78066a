import { validateOrgFilter } from '../filters/validate-condition';
import type { EntityMetadata, EntityOfflineSettings, Relationship } from '../model/entity';
import type { Violation } from '../model/profile';

/**
 * Checks one entity's metadata on its own (declared for `local` sources): the primary id and name
 * attributes exist, attribute and relationship names are unique, each relationship has this entity on
 * one side, and this entity's attribute on that side exists. `path` prefixes every violation.
 */
export function validateEntityMetadata(entity: EntityMetadata, path = ''): Violation[] {
  const violations: Violation[] = [];
  const at = (field: string): string => (path === '' ? field : `${path}.${field}`);
  const attributes = new Set<string>();
  entity.attributes.forEach((attribute, i) => {
    if (attributes.has(attribute.name)) {
      violations.push({
        path: at(`attributes[${i}].name`),
        code: 'DuplicateAttribute',
        message: `Attribute '${attribute.name}' is declared twice.`,
      });
    }
    attributes.add(attribute.name);
  });
  for (const field of ['primaryIdAttribute', 'primaryNameAttribute'] as const) {
    if (!attributes.has(entity[field])) {
      violations.push({
        path: at(field),
        code: 'AttributeNotFound',
        message: `'${entity[field]}' is not an attribute of '${entity.logicalName}'.`,
      });
    }
  }
  const relationshipNames = new Set<string>();
  entity.relationships.forEach((relationship, i) => {
    const relPath = at(`relationships[${i}]`);
    if (relationshipNames.has(relationship.name)) {
      violations.push({
        path: `${relPath}.name`,
        code: 'DuplicateRelationship',
        message: `Relationship '${relationship.name}' is declared twice.`,
      });
    }
    relationshipNames.add(relationship.name);
    const ownSides = relationshipSides(relationship).filter((side) => side.entity === entity.logicalName);
    if (ownSides.length === 0) {
      violations.push({
        path: relPath,
        code: 'RelationshipNotOnEntity',
        message: `Relationship '${relationship.name}' does not involve '${entity.logicalName}'.`,
      });
    }
  });
  return violations;
}

/** One end of a relationship: an entity, the attribute on it, and the field names that hold them. */
interface RelationshipSide {
  entity: string;
  entityField: string;
  attribute: string;
  attributeField: string;
}

function relationshipSides(relationship: Relationship): RelationshipSide[] {
  if (relationship.kind === 'many-to-many') {
    // The attributes of a many-to-many relationship are the intersect entity's columns.
    return [
      { entity: relationship.entity1, entityField: 'entity1', attribute: '', attributeField: '' },
      { entity: relationship.entity2, entityField: 'entity2', attribute: '', attributeField: '' },
    ];
  }
  return [
    {
      entity: relationship.referencedEntity,
      entityField: 'referencedEntity',
      attribute: relationship.referencedAttribute,
      attributeField: 'referencedAttribute',
    },
    {
      entity: relationship.referencingEntity,
      entityField: 'referencingEntity',
      attribute: relationship.referencingAttribute,
      attributeField: 'referencingAttribute',
    },
  ];
}

/** An entity with its offline settings, as a customizations publish sees it. */
export interface EntityConfiguration {
  metadata: EntityMetadata;
  offline: EntityOfflineSettings;
}

/**
 * Checks a tenant's whole entity catalog before a customizations publish, returning every violation:
 * each entity on its own ({@link validateEntityMetadata}); every relationship names entities of the
 * catalog and attributes that exist on them (the intersect entity's columns for many-to-many ones,
 * when the intersect entity is declared); every offline entity's org data download filter is valid.
 * Paths look like `entities[account].relationships[2].referencedEntity`.
 */
export function validateEntityCatalog(entities: readonly EntityConfiguration[]): Violation[] {
  const byName = new Map(entities.map((e) => [e.metadata.logicalName, e.metadata]));
  const violations: Violation[] = [];
  for (const { metadata, offline } of entities) {
    const path = `entities[${metadata.logicalName}]`;
    violations.push(...validateEntityMetadata(metadata, path));
    metadata.relationships.forEach((relationship, i) => {
      const relPath = `${path}.relationships[${i}]`;
      if (relationship.kind === 'many-to-many') {
        const intersect = byName.get(relationship.intersectEntity);
        for (const [side, attribute, field] of [
          [relationship.entity1, relationship.entity1Attribute, 'entity1'],
          [relationship.entity2, relationship.entity2Attribute, 'entity2'],
        ] as const) {
          if (!byName.has(side)) {
            violations.push({
              path: `${relPath}.${field}`,
              code: 'EntityNotFound',
              message: `Relationship '${relationship.name}' names entity '${side}', which is not declared.`,
            });
          }
          if (intersect && !intersect.attributes.some((a) => a.name === attribute)) {
            violations.push({
              path: `${relPath}.${field}Attribute`,
              code: 'AttributeNotFound',
              message: `Intersect entity '${intersect.logicalName}' has no attribute '${attribute}'.`,
            });
          }
        }
        return;
      }
      for (const side of relationshipSides(relationship)) {
        const sideEntity = byName.get(side.entity);
        if (sideEntity === undefined) {
          violations.push({
            path: `${relPath}.${side.entityField}`,
            code: 'EntityNotFound',
            message: `Relationship '${relationship.name}' names entity '${side.entity}', which is not declared.`,
          });
        } else if (!sideEntity.attributes.some((a) => a.name === side.attribute)) {
          violations.push({
            path: `${relPath}.${side.attributeField}`,
            code: 'AttributeNotFound',
            message: `Entity '${side.entity}' has no attribute '${side.attribute}'.`,
          });
        }
      }
    });
    if (offline.enabled)
      violations.push(...validateOrgFilter(offline.orgFilter, metadata, `${path}.orgFilter`));
  }
  return violations;
}
