import type { EntityMetadata, Relationship } from '../model/entity';

/** How an association's relationship looks from the item's entity. */
export type AssociationDirection = 'one-to-many' | 'many-to-one' | 'many-to-many';

/** A relationship resolved from an item's entity: the entity on its other side and its direction. */
export interface ResolvedAssociation {
  relationship: Relationship;
  /** The entity whose related rows the association downloads. */
  target: string;
  /** `one-to-many` when the item's entity is the referenced ("one") side. */
  direction: AssociationDirection;
}

/** The other side of `relationship` seen from `entity`, or undefined when `entity` is on neither side. */
function resolveFrom(entity: string, relationship: Relationship): ResolvedAssociation | undefined {
  if (relationship.kind === 'many-to-many') {
    if (relationship.entity1 === entity)
      return { relationship, target: relationship.entity2, direction: 'many-to-many' };
    if (relationship.entity2 === entity)
      return { relationship, target: relationship.entity1, direction: 'many-to-many' };
    return undefined;
  }
  const { referencedEntity: one, referencingEntity: many } = relationship;
  // A self-referencing relationship keeps the direction its kind declares.
  if (one === entity && many === entity)
    return { relationship, target: entity, direction: relationship.kind };
  if (one === entity) return { relationship, target: many, direction: 'one-to-many' };
  if (many === entity) return { relationship, target: one, direction: 'many-to-one' };
  return undefined;
}

/**
 * Finds the relationship an association names, seen from the item's entity: first among the entity's
 * own relationships (Dataverse lists each relationship on both entities), then among any entity's
 * relationships that have the item's entity on one side (local sources may declare it once).
 */
export function resolveAssociation(
  entity: EntityMetadata,
  relationshipName: string,
  allEntities: Iterable<EntityMetadata>,
): ResolvedAssociation | undefined {
  for (const relationship of entity.relationships) {
    if (relationship.name !== relationshipName) continue;
    const resolved = resolveFrom(entity.logicalName, relationship);
    if (resolved) return resolved;
  }
  for (const other of allEntities) {
    if (other.logicalName === entity.logicalName) continue;
    for (const relationship of other.relationships) {
      if (relationship.name !== relationshipName) continue;
      const resolved = resolveFrom(entity.logicalName, relationship);
      if (resolved) return resolved;
    }
  }
  return undefined;
}
