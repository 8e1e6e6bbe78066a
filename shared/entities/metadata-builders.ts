import type { Attribute, Relationship } from '../model/entity';

/** An attribute with the usual defaults: optional, not secured. */
export function attribute(name: string, type: Attribute['type'], extra: Partial<Attribute> = {}): Attribute {
  return { name, type, required: false, secured: false, ...extra };
}

/**
 * A relationship carried by a lookup: `referencingEntity.referencingAttribute` holds the primary id
 * (`<entity>id`) of a `referencedEntity` row. Seen from the referenced entity it is one-to-many, from
 * the referencing one many-to-one.
 */
export function lookupRelationship(
  name: string,
  kind: 'one-to-many' | 'many-to-one',
  referencedEntity: string,
  referencingEntity: string,
  referencingAttribute: string,
): Relationship {
  return {
    name,
    kind,
    referencedEntity,
    referencedAttribute: `${referencedEntity}id`,
    referencingEntity,
    referencingAttribute,
  };
}
