import type { EntityMetadata, Relationship } from '../model/entity';
import type { Attributes, StoredRecord } from '../model/record';
import type { RecordProbe } from '../store/port';

/**
 * The association-link rules of offline profiles (SPEC §4 associations), in one place: how a target
 * entity's rows are reached from a source entity's member rows, which value each side offers, and
 * which look-ups find one side from the other.
 *
 * - `lookup-on-source` (many-to-one from the source): the source row's `sourceAttribute` names the
 *   target row (by its id, or by `targetAttribute` when that is not the target's primary id);
 * - `lookup-on-target` (one-to-many from the source): the target row's `targetAttribute` names the
 *   source row (by its id, or by `sourceAttribute` when that is not the source's primary id);
 * - `intersect` (many-to-many): rows of the intersect entity pair a source id (`sourceAttribute`)
 *   with a target id (`targetAttribute`).
 * Undefined attributes mean "the row's id". Every link value is compared lower-cased (ids are GUIDs).
 */
export type AssociationLink =
  | { kind: 'lookup-on-source'; sourceAttribute: string; targetAttribute: string | undefined }
  | { kind: 'lookup-on-target'; sourceAttribute: string | undefined; targetAttribute: string }
  | { kind: 'intersect'; intersectEntity: string; sourceAttribute: string; targetAttribute: string };

/** One association of a profile, resolved to its two entities and how they link. */
export interface CompiledAssociation {
  relationship: string;
  source: string;
  target: string;
  link: AssociationLink;
  /** The two entities' metadata. */
  sourceMetadata: EntityMetadata;
  targetMetadata: EntityMetadata;
}

/** How `source` reaches the other side of `relationship`; undefined when the relationship is not its. */
export function linkOf(source: string, relationship: Relationship): AssociationLink | undefined {
  if (relationship.kind === 'many-to-many') {
    const sourceIsOne = relationship.entity1 === source;
    return {
      kind: 'intersect',
      intersectEntity: relationship.intersectEntity,
      sourceAttribute: sourceIsOne ? relationship.entity1Attribute : relationship.entity2Attribute,
      targetAttribute: sourceIsOne ? relationship.entity2Attribute : relationship.entity1Attribute,
    };
  }
  if (relationship.referencingEntity === source) {
    return {
      kind: 'lookup-on-source',
      sourceAttribute: relationship.referencingAttribute,
      targetAttribute: relationship.referencedAttribute,
    };
  }
  if (relationship.referencedEntity === source) {
    return {
      kind: 'lookup-on-target',
      sourceAttribute: relationship.referencedAttribute,
      targetAttribute: relationship.referencingAttribute,
    };
  }
  return undefined;
}

/** Lower-cased string form of an id-like column, or undefined when the column holds no id. */
export function idValue(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.toLowerCase() : undefined;
}

function isPrimaryId(entity: EntityMetadata, attribute: string | undefined): boolean {
  return attribute === undefined || attribute === entity.primaryIdAttribute;
}

/** The row value a link attribute names: the row's id when the attribute is its primary id. */
function keyValue(
  entity: EntityMetadata,
  attribute: string | undefined,
  id: string,
  attributes: Attributes,
): string | undefined {
  return isPrimaryId(entity, attribute) ? id.toLowerCase() : idValue(attributes[attribute!]);
}

/**
 * Whether the value a source row offers is its own id: it never changes, so the device state need
 * not remember it (see {@link sourceValue}).
 */
export function sourceValueIsId(association: CompiledAssociation): boolean {
  const { link } = association;
  return (
    link.kind === 'intersect' ||
    (link.kind === 'lookup-on-target' && isPrimaryId(association.sourceMetadata, link.sourceAttribute))
  );
}

/**
 * The value a source row offers its association's targets: its lookup (lookup-on-source), its id or
 * the referenced key (lookup-on-target), its id (intersect). Undefined for a row that offers none.
 */
export function sourceValue(association: CompiledAssociation, record: StoredRecord): string | undefined {
  const { link } = association;
  if (record.deleted) return undefined;
  switch (link.kind) {
    case 'lookup-on-source':
      return idValue(record.attributes[link.sourceAttribute]);
    case 'lookup-on-target':
      return keyValue(association.sourceMetadata, link.sourceAttribute, record.id, record.attributes);
    case 'intersect':
      return record.id.toLowerCase();
  }
}

/** The value a target row is reached by: a source value equal to it reaches the row (not intersect). */
export function targetValue(association: CompiledAssociation, record: StoredRecord): string | undefined {
  const { link } = association;
  switch (link.kind) {
    case 'lookup-on-source':
      return keyValue(association.targetMetadata, link.targetAttribute, record.id, record.attributes);
    case 'lookup-on-target':
      return idValue(record.attributes[link.targetAttribute]);
    case 'intersect':
      return record.id.toLowerCase();
  }
}

/** A look-up of rows of one entity. */
export interface EntityProbe {
  entity: string;
  probe: RecordProbe;
}

/**
 * The look-up of the target rows that source values reach. For an intersect link it finds the
 * intersect rows that pair the sources (their {@link pairedTargets} are the target ids).
 */
export function targetsProbe(association: CompiledAssociation, values: readonly string[]): EntityProbe {
  const { link } = association;
  switch (link.kind) {
    case 'lookup-on-source': {
      const attribute = isPrimaryId(association.targetMetadata, link.targetAttribute)
        ? null
        : link.targetAttribute!;
      return { entity: association.target, probe: { kind: 'text', attribute, values } };
    }
    case 'lookup-on-target':
      return { entity: association.target, probe: { kind: 'text', attribute: link.targetAttribute, values } };
    case 'intersect':
      return {
        entity: link.intersectEntity,
        probe: { kind: 'text', attribute: link.sourceAttribute, values },
      };
  }
}

/**
 * The look-up of the source rows that may reach target rows offering `values` (their
 * {@link targetValue}s; for intersect links, target ids: it finds the intersect rows that pair them,
 * whose {@link pairedSources} are the source ids).
 */
export function sourcesProbe(association: CompiledAssociation, values: readonly string[]): EntityProbe {
  const { link } = association;
  switch (link.kind) {
    case 'lookup-on-source':
      return { entity: association.source, probe: { kind: 'text', attribute: link.sourceAttribute, values } };
    case 'lookup-on-target': {
      const attribute = isPrimaryId(association.sourceMetadata, link.sourceAttribute)
        ? null
        : link.sourceAttribute!;
      return { entity: association.source, probe: { kind: 'text', attribute, values } };
    }
    case 'intersect':
      return {
        entity: link.intersectEntity,
        probe: { kind: 'text', attribute: link.targetAttribute, values },
      };
  }
}

/** The (source id, target id) an intersect row pairs, lower-cased; undefined when it pairs nothing. */
export function intersectPair(
  association: CompiledAssociation,
  record: StoredRecord,
): { source: string; target: string } | undefined {
  const { link } = association;
  if (link.kind !== 'intersect' || record.deleted) return undefined;
  const source = idValue(record.attributes[link.sourceAttribute]);
  const target = idValue(record.attributes[link.targetAttribute]);
  return source === undefined || target === undefined ? undefined : { source, target };
}
