import type { StoredRecord } from '../model/record';
import { rowQualifiesDirectly } from '../security/membership';
import type { RecordStore } from '../store/port';
import type { CompiledAssociation, CompiledDeviceProfile, CompiledEntity } from './compile-device-profile';
import { idValue, linkValue } from './compile-device-profile';

/** The rows a device may hold: entity → row id → version. Only ids and versions, never rows. */
export type DeviceSet = Map<string, Map<string, string>>;

/** Rows read per `scanRecords` call while computing a set. */
const SCAN_PAGE_SIZE = 1000;

/** Number of rows in a set. */
export function deviceSetSize(set: DeviceSet): number {
  let count = 0;
  for (const rows of set.values()) count += rows.size;
  return count;
}

/**
 * Is a row a member without looking at associations? For entities no association touches this is the
 * whole rule: not deleted, selected by the item's own rule, meeting the org filter, readable.
 */
export function rowIsDirectMember(entity: CompiledEntity, record: StoredRecord): boolean {
  return !record.deleted && rowQualifiesDirectly(entity.membership, record.attributes, false);
}

/**
 * Computes every row the device may hold (SPEC §4, §5): for each profile entity, in an order where
 * association sources come first, the rows that (meet the item's own rule OR are reached through an
 * association from the source entity's member rows) AND meet the org filter AND are readable by the
 * user. Tombstones are never members. Rows are streamed with `scanRecords`; only ids, versions and
 * the link values associations need are kept, so memory grows with the set, not with row size.
 * `onMember` sees each member row as it is found, in the set's order (a caller may keep a few).
 */
export async function computeDeviceSet(
  store: RecordStore,
  profile: CompiledDeviceProfile,
  onMember?: (record: StoredRecord) => void,
): Promise<DeviceSet> {
  const set: DeviceSet = new Map(profile.order.map((name) => [name, new Map<string, string>()]));
  await visitDeviceSet(store, profile, (record) => {
    set.get(record.entity)!.set(record.id, record.version);
    onMember?.(record);
  });
  return set;
}

/**
 * Visits every row of the device's set (see {@link computeDeviceSet}) in the set's order without
 * keeping the set: only the link values associations need are kept. When `onMember` returns a
 * promise, the scan waits for it (a caller writing what it sees can hold the scan back).
 */
export async function visitDeviceSet(
  store: RecordStore,
  profile: CompiledDeviceProfile,
  onMember: (record: StoredRecord) => void | Promise<void>,
): Promise<void> {
  // Per association: the link values its source's members produced (what target rows must match).
  const reached = new Map<CompiledAssociation, Set<string>>();
  for (const name of profile.order) {
    const entity = profile.entities.get(name)!;
    const incoming: { association: CompiledAssociation; values: ReadonlySet<string> }[] = [];
    for (const association of entity.incoming) {
      let values = reached.get(association) ?? new Set<string>();
      if (association.link.kind === 'intersect') values = await intersectTargets(store, association, values);
      incoming.push({ association, values });
    }
    const outgoing = entity.outgoing.map((association) => {
      const values = new Set<string>();
      reached.set(association, values);
      return { association, values };
    });
    await scanAll(store, name, (record) => {
      const isReached = incoming.some(({ association, values }) =>
        targetMatches(entity, association, record, values),
      );
      if (!rowQualifiesDirectly(entity.membership, record.attributes, isReached)) return;
      for (const { association, values } of outgoing) {
        const value = sourceValue(entity, association, record);
        if (value !== undefined) values.add(value);
      }
      return onMember(record);
    });
  }
}

/** The value a source member row contributes to an association. */
function sourceValue(
  entity: CompiledEntity,
  association: CompiledAssociation,
  record: StoredRecord,
): string | undefined {
  const link = association.link;
  switch (link.kind) {
    case 'lookup-on-source':
      return idValue(record.attributes[link.sourceAttribute]);
    case 'lookup-on-target':
      return linkValue(entity.metadata, link.sourceAttribute, record.id, record.attributes);
    case 'intersect':
      return record.id.toLowerCase();
  }
}

/** Does a target row match one of the values its association's source members produced? */
function targetMatches(
  entity: CompiledEntity,
  association: CompiledAssociation,
  record: StoredRecord,
  values: ReadonlySet<string>,
): boolean {
  if (values.size === 0) return false;
  const link = association.link;
  let value: string | undefined;
  if (link.kind === 'lookup-on-source') {
    value = linkValue(entity.metadata, link.targetAttribute, record.id, record.attributes);
  } else if (link.kind === 'lookup-on-target') {
    value = idValue(record.attributes[link.targetAttribute]);
  } else {
    value = record.id.toLowerCase();
  }
  return value !== undefined && values.has(value);
}

/** Target ids paired with any of `sourceIds` by live rows of a many-to-many's intersect entity. */
async function intersectTargets(
  store: RecordStore,
  association: CompiledAssociation,
  sourceIds: ReadonlySet<string>,
): Promise<Set<string>> {
  const targets = new Set<string>();
  const link = association.link;
  if (link.kind !== 'intersect' || sourceIds.size === 0) return targets;
  await scanAll(store, link.intersectEntity, (record) => {
    const source = idValue(record.attributes[link.sourceAttribute]);
    const target = idValue(record.attributes[link.targetAttribute]);
    if (source !== undefined && target !== undefined && sourceIds.has(source)) targets.add(target);
  });
  return targets;
}

/** Visits every live row of an entity, page by page, in id order, waiting for a visit's promise. */
async function scanAll(
  store: RecordStore,
  entity: string,
  visit: (record: StoredRecord) => void | Promise<void>,
): Promise<void> {
  let afterId: string | undefined;
  for (;;) {
    const page = await store.scanRecords(entity, {
      limit: SCAN_PAGE_SIZE,
      ...(afterId === undefined ? {} : { afterId }),
    });
    for (const record of page) {
      if (record.deleted) continue;
      const visited = visit(record);
      if (visited !== undefined) await visited;
    }
    const last = page.at(-1);
    if (last === undefined || page.length < SCAN_PAGE_SIZE) return;
    afterId = last.id;
  }
}
