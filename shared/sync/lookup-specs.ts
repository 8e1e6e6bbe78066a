import { loadEntities } from '../admin/entity-config';
import { listPublishedProfiles } from '../admin/profile-service';
import { valueKindOf } from '../filters/evaluate-comparable';
import type { Condition } from '../model/condition';
import type { EntityMetadata } from '../model/entity';
import type { FilterTree } from '../model/filter-tree';
import type { PublishedProfile } from '../model/profile';
import { isWriteStamp, OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE } from '../model/record';
import { resolveAssociation } from '../profiles/resolve-association';
import type { ConfiguredEntity } from '../profiles/validate-profile';
import type { LookupSpec, TenantStore } from '../store/port';
import { linkOf } from './associations';

/** The cover attributes a date window's gained day is looked up within (composite look-ups). */
const NARROWED_COVERS = [OWNER_ATTRIBUTE, OWNING_BUSINESS_UNIT_ATTRIBUTE] as const;

/**
 * Whether the rows of a cover attribute (owner, business unit) are looked up within a day of a date
 * attribute — the one rule publishing (which prepares the composite index) and the engine (which asks
 * for it) share. Not for a write stamp (`isWriteStamp`): its gained day holds no stored rows, so the
 * direct look-up costs nothing and an index kept for it would cost every write.
 */
export function narrowsByDate(coverAttribute: string, dateAttribute: string): boolean {
  return (NARROWED_COVERS as readonly string[]).includes(coverAttribute) && !isWriteStamp(dateAttribute);
}

/**
 * The look-ups the sync engine can ask for under these published profiles and entities (store
 * `prepareLookups`): the row id, ownership, the attributes of filter conditions an index can serve,
 * and the link attributes of associations. Attributes, not values: it holds for every user.
 */
export function lookupSpecsFor(
  profiles: readonly PublishedProfile[],
  configured: readonly ConfiguredEntity[],
): LookupSpec[] {
  const specs = new Map<string, LookupSpec>();
  const add = (attribute: string | null, kind: LookupSpec['kind'], within?: string): void => {
    specs.set(`${kind}\u0000${attribute ?? ''}\u0000${within ?? ''}`, {
      attribute,
      kind,
      ...(within === undefined ? {} : { within }),
    });
  };
  const byName = new Map(configured.map((e) => [e.metadata.logicalName, e]));
  const metadata = configured.map((e) => e.metadata);
  add(null, 'text');
  for (const profile of profiles) {
    for (const item of profile.items) {
      const config = byName.get(item.entity);
      if (config === undefined || !config.offline.enabled) continue;
      add(OWNER_ATTRIBUTE, 'text');
      add(OWNING_BUSINESS_UNIT_ATTRIBUTE, 'text');
      const conditions = [...config.offline.orgFilter];
      if (item.customFilter !== undefined) visitTree(item.customFilter, (c) => conditions.push(c));
      for (const condition of conditions) {
        addCondition(add, condition, config.metadata);
        // The day a window gains, among an owner's or a business unit's rows (sync-work.ts `withinCover`).
        const attribute = condition.attribute.toLowerCase();
        if (condition.operator !== 'last-x-days') continue;
        for (const cover of NARROWED_COVERS)
          if (narrowsByDate(cover, attribute)) add(cover, 'text', attribute);
      }
      for (const association of item.associations) {
        const resolved = resolveAssociation(config.metadata, association.relationship, metadata);
        const link = resolved === undefined ? undefined : linkOf(item.entity, resolved.relationship);
        if (link === undefined) continue;
        if (link.kind === 'intersect') {
          add(link.sourceAttribute, 'text');
          add(link.targetAttribute, 'text');
        } else {
          if (link.sourceAttribute !== undefined) add(link.sourceAttribute, 'text');
          if (link.targetAttribute !== undefined) add(link.targetAttribute, 'text');
        }
      }
    }
  }
  return [...specs.values()];
}

function visitTree(tree: FilterTree, visit: (condition: Condition) => void): void {
  tree.conditions.forEach(visit);
  tree.filters.forEach((f) => visitTree(f, visit));
}

function addCondition(
  add: (attribute: string, kind: LookupSpec['kind']) => void,
  condition: Condition,
  entity: EntityMetadata,
): void {
  const attribute = condition.attribute.toLowerCase();
  const type = entity.attributes.find((a) => a.name.toLowerCase() === attribute)?.type;
  const kind = valueKindOf(type, Array.isArray(condition.value) ? condition.value[0] : condition.value);
  switch (condition.operator) {
    case 'last-x-days':
      add(attribute, 'time');
      return;
    case 'eq-userlanguage':
      add(attribute, 'number');
      return;
    case 'eq-userid':
    case 'eq-userteams':
    case 'eq-useroruserteams':
    case 'eq-useroruserhierarchy':
    case 'eq-useroruserhierarchyandteams':
    case 'eq-businessid':
      add(attribute, 'text');
      return;
    case 'eq':
    case 'in':
      if (kind === 'text' || kind === 'id') add(attribute, 'text');
      else if (kind === 'number') add(attribute, 'number');
      else if (kind === 'datetime') add(attribute, 'time');
      return;
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le':
      if (kind === 'datetime') add(attribute, 'time');
      return;
    default:
      return;
  }
}

/**
 * Has the store build what the tenant's published configuration looks rows up by. Called where
 * configuration is published (profile and customization publishes, provisioning's "configure sync"):
 * building an index on a large tenant takes a while, and no device request should pay for it.
 */
export async function prepareSyncLookups(store: TenantStore): Promise<void> {
  const [profiles, entities] = await Promise.all([listPublishedProfiles(store), loadEntities(store)]);
  await store.prepareLookups(lookupSpecsFor(profiles, entities));
}
