import type { Clock } from '../clock';
import { AppError } from '../errors';
import { filterDependencies } from '../filters/evaluate-filter';
import type { EntityMetadata, Relationship } from '../model/entity';
import type { ProfileItem, PublishedProfile } from '../model/profile';
import type { Attributes } from '../model/record';
import { resolveAssociation } from '../profiles/resolve-association';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import { compileMembership, type CompiledMembership } from '../security/membership';
import { compileSecuredColumnStripper, type SecuredColumnStripper } from '../security/secured-columns';
import type { UserContext } from '../security/user-context';

/**
 * How rows of a target entity are reached from a source entity's member rows (SPEC §4 associations):
 * - `lookup-on-source` (many-to-one from the source): the source row's `sourceAttribute` names the
 *   target row (by its id, or by `targetAttribute` when that is not the target's primary id);
 * - `lookup-on-target` (one-to-many from the source): the target row's `targetAttribute` names the
 *   source row (by its id, or by `sourceAttribute` when that is not the source's primary id);
 * - `intersect` (many-to-many): rows of the intersect entity pair a source id (`sourceAttribute`)
 *   with a target id (`targetAttribute`).
 * Undefined attributes mean "the row's id".
 */
export type AssociationLink =
  | { kind: 'lookup-on-source'; sourceAttribute: string; targetAttribute: string | undefined }
  | { kind: 'lookup-on-target'; sourceAttribute: string | undefined; targetAttribute: string }
  | { kind: 'intersect'; intersectEntity: string; sourceAttribute: string; targetAttribute: string };

/** One association of the profile, resolved to its two entities and how they link. */
export interface CompiledAssociation {
  relationship: string;
  source: string;
  target: string;
  link: AssociationLink;
}

/** Everything download needs to decide membership of one entity's rows, bound to the syncing user. */
export interface CompiledEntity {
  name: string;
  metadata: EntityMetadata;
  item: ProfileItem;
  membership: CompiledMembership;
  strip: SecuredColumnStripper;
  /** Associations whose target is this entity. */
  incoming: CompiledAssociation[];
  /** Associations whose source is this entity. */
  outgoing: CompiledAssociation[];
}

/** A published profile compiled for one user at one instant (SPEC §4, §5). */
export interface CompiledDeviceProfile {
  profile: PublishedProfile;
  /** Profile entities (published and offline-enabled), by name. */
  entities: ReadonlyMap<string, CompiledEntity>;
  /** Entity names ordered so that every association's source comes before its target. */
  order: readonly string[];
  /**
   * Entities whose row changes can move other rows in or out of the set: sources and targets of
   * associations and intersect entities. A change to one of them needs a recomputation of the set.
   */
  associationEntities: ReadonlySet<string>;
  /** Some filter uses `last-x-days`: membership may change when the day changes. */
  clockDependent: boolean;
  /** The secured columns hidden from this user, as `entity.attribute` joined: rows are re-sent when it changes. */
  hiddenColumns: string;
}

/** Lower-cased string form of an id-like column, or undefined when the column holds no id. */
export function idValue(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value.toLowerCase() : undefined;
}

/** The row value a link attribute names: the row's id when the attribute is its primary id. */
export function linkValue(
  entity: EntityMetadata | undefined,
  attribute: string | undefined,
  id: string,
  attributes: Attributes,
): string | undefined {
  if (attribute === undefined || entity === undefined || attribute === entity.primaryIdAttribute) {
    return id.toLowerCase();
  }
  return idValue(attributes[attribute]);
}

/**
 * Compiles the user's published profile against the published entities: each item's rule, its
 * entity's org filter and the user's Read privilege, secured-column stripping, and the associations in
 * an order where sources come first. Items whose entity is not published or not offline-enabled are
 * left out (they download nothing), as are associations whose target is not in the profile.
 *
 * @throws AppError `ProfileInvalid` when the associations form a cycle (publish refuses that).
 */
export function compileDeviceProfile(
  profile: PublishedProfile,
  configured: readonly ConfiguredEntity[],
  user: UserContext,
  clock: Clock,
): CompiledDeviceProfile {
  const byName = new Map(configured.map((e) => [e.metadata.logicalName, e]));
  const allMetadata = configured.map((e) => e.metadata);
  const context = { user, clock };
  const entities = new Map<string, CompiledEntity>();
  let clockDependent = false;
  for (const item of profile.items) {
    const config = byName.get(item.entity);
    if (config === undefined || !config.offline.enabled || entities.has(item.entity)) continue;
    if (filterDependencies(config.offline.orgFilter).clock) clockDependent = true;
    if (item.customFilter !== undefined && filterDependencies(item.customFilter).clock) clockDependent = true;
    entities.set(item.entity, {
      name: item.entity,
      metadata: config.metadata,
      item,
      membership: compileMembership(item, config.offline.orgFilter, config.metadata, context),
      strip: compileSecuredColumnStripper(user, config.metadata),
      incoming: [],
      outgoing: [],
    });
  }

  const associationEntities = new Set<string>();
  for (const source of entities.values()) {
    for (const association of source.item.associations) {
      const resolved = resolveAssociation(source.metadata, association.relationship, allMetadata);
      if (resolved === undefined || resolved.target === source.name) continue;
      const target = entities.get(resolved.target);
      if (target === undefined) continue;
      const link = linkOf(source.name, resolved.relationship);
      if (link === undefined) continue;
      const compiled: CompiledAssociation = {
        relationship: association.relationship,
        source: source.name,
        target: target.name,
        link,
      };
      source.outgoing.push(compiled);
      target.incoming.push(compiled);
      associationEntities.add(source.name);
      associationEntities.add(target.name);
      if (link.kind === 'intersect') associationEntities.add(link.intersectEntity);
    }
  }
  const hidden: string[] = [];
  for (const entity of entities.values()) {
    const visible = entity.strip(Object.fromEntries(entity.metadata.attributes.map((a) => [a.name, true])));
    for (const a of entity.metadata.attributes)
      if (!Object.hasOwn(visible, a.name)) hidden.push(`${entity.name}.${a.name}`);
  }
  return {
    profile,
    entities,
    hiddenColumns: hidden.sort().join(','),
    order: topologicalOrder(entities),
    associationEntities,
    clockDependent,
  };
}

function linkOf(source: string, relationship: Relationship): AssociationLink | undefined {
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

/** Kahn's order over the association graph; a cycle (publish refuses them) is an error. */
function topologicalOrder(entities: ReadonlyMap<string, CompiledEntity>): string[] {
  const pending = new Map<string, number>();
  for (const entity of entities.values()) {
    pending.set(entity.name, new Set(entity.incoming.map((a) => a.source)).size);
  }
  const ready = [...entities.keys()].filter((name) => pending.get(name) === 0);
  const order: string[] = [];
  for (let next = ready.shift(); next !== undefined; next = ready.shift()) {
    order.push(next);
    const targets = new Set(entities.get(next)!.outgoing.map((a) => a.target));
    for (const target of targets) {
      const left = pending.get(target)! - 1;
      pending.set(target, left);
      if (left === 0) ready.push(target);
    }
  }
  if (order.length !== entities.size) {
    throw new AppError('ProfileInvalid', "The profile's associations form a cycle.", {
      details: { entities: [...entities.keys()].filter((n) => !order.includes(n)) },
    });
  }
  return order;
}
