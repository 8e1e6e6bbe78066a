import type { StoredRecord } from '../model/record';
import type { RecordStore } from '../store/port';
import type { CompiledAssociation, CompiledDeviceProfile, CompiledEntity } from './compile-device-profile';
import { idValue, linkValue } from './compile-device-profile';
import { bucketOf, type HeldRows, type PlanEntry } from './device-state';

/** Past this many rows to judge, recomputing the whole set is the better deal. */
const MAX_JUDGED_ROWS = 20_000;

/** What changes in a device's set after some rows changed. */
export interface MembershipDelta {
  /** Upserts of rows that joined or changed, removals of held rows that left. */
  entries: PlanEntry[];
  /** Rows joined minus rows left. */
  sizeDelta: number;
}

/** Reads held buckets of the device (all of them when `buckets` is undefined). */
export type HeldLoader = (buckets?: ReadonlySet<number>) => Promise<HeldRows>;

/**
 * Works out how a device's set changes when `changed` rows changed since the held set was right,
 * without scanning any entity: cost grows with what changed and the rows linked to it.
 *
 * Rows are judged entity by entity in the profile's association order (sources first). A row is
 * judged when it changed, or when a row it is linked to changed membership or link value: a member
 * row is (own rule OR reached) AND org filter AND readable, where reached means some member row of an
 * association's source links to it (found with {@link RecordStore.findRecordsByAttribute}). A source
 * row's membership is the new judgement when it was judged, else what the device holds (unchanged
 * since the held set was right). The old link values of a changed row are not known (the store keeps
 * only the latest state), so when a held row changed, every held row of the association's target is
 * judged again: the row it reached may have lost its only source.
 *
 * Returns undefined when too many rows would be judged (the caller recomputes the set).
 */
export async function judgeChangedRows(
  store: RecordStore,
  profile: CompiledDeviceProfile,
  changed: readonly StoredRecord[],
  loadHeld: HeldLoader,
): Promise<MembershipDelta | undefined> {
  const held = new HeldView(loadHeld);
  const work = new Map<string, EntityWork>();
  const workOf = (entity: string): EntityWork => {
    let w = work.get(entity);
    if (w === undefined) {
      w = { rows: new Map(), byId: new Set(), byAttribute: new Map(), intersectSources: [], allHeld: false };
      work.set(entity, w);
    }
    return w;
  };
  const changedKeys = new Set<string>();
  for (const record of changed) {
    if (profile.entities.has(record.entity)) {
      workOf(record.entity).rows.set(record.id, record);
      changedKeys.add(rowKey(record.entity, record.id));
    }
  }
  // A changed intersect row pairs anew (its new target is judged) and may have unpaired another
  // (unknown: every held target row is judged).
  for (const entity of profile.entities.values()) {
    for (const association of entity.outgoing) {
      const link = association.link;
      if (link.kind !== 'intersect') continue;
      for (const record of changed) {
        if (record.entity !== link.intersectEntity) continue;
        const target = workOf(association.target);
        target.allHeld = true;
        const value = record.deleted ? undefined : idValue(record.attributes[link.targetAttribute]);
        if (value !== undefined) target.byId.add(value);
      }
    }
  }
  await held.ensure(changed.map((r) => [r.entity, r.id]));

  const decided = new Map<string, Map<string, boolean>>();
  const memberNow = (entity: string, id: string): boolean =>
    decided.get(entity)?.get(id) ?? held.version(entity, id) !== undefined;
  const entries: PlanEntry[] = [];
  let sizeDelta = 0;
  let judgedCount = 0;

  for (const name of profile.order) {
    const entity = profile.entities.get(name)!;
    const w = work.get(name);
    if (w === undefined) continue;
    const rows = await collectRows(store, entity, w, held);
    judgedCount += rows.size;
    if (judgedCount > MAX_JUDGED_ROWS) return undefined;
    await held.ensure([...rows.keys()].map((id) => [name, id]));
    const members = await judge(store, profile, entity, rows, memberNow, held);
    const verdicts = new Map<string, boolean>();
    decided.set(name, verdicts);
    for (const [id, record] of rows) {
      const isMember = members.has(id);
      verdicts.set(id, isMember);
      const holds = held.version(name, id);
      if (isMember && record !== undefined) {
        if (holds !== record.version) entries.push([name, id, 'u', record.version]);
        if (holds === undefined) sizeDelta += 1;
      } else if (holds !== undefined) {
        entries.push([name, id, 'r', holds]);
        sizeDelta -= 1;
      }
    }
    for (const association of entity.outgoing) {
      const target = profile.entities.get(association.target)!;
      propagate(entity, target, association, rows, verdicts, held, changedKeys, workOf(target.name));
    }
  }
  return { entries, sizeDelta };
}

/** Rows of one entity to judge: known rows, and lookups that find more. */
interface EntityWork {
  /** Rows by id; undefined: held but no longer stored. */
  rows: Map<string, StoredRecord | undefined>;
  /** Lower-cased ids to find. */
  byId: Set<string>;
  /** Attribute → lower-cased values to find. */
  byAttribute: Map<string, Set<string>>;
  /** Rows paired through a many-to-many's intersect entity with these source ids (lower-cased). */
  intersectSources: {
    intersectEntity: string;
    sourceAttribute: string;
    targetAttribute: string;
    id: string;
  }[];
  /** Every row the device holds of the entity. */
  allHeld: boolean;
}

function rowKey(entity: string, id: string): string {
  return `${entity}\u0000${id}`;
}

/** The held set, its buckets loaded on demand. */
class HeldView {
  private readonly rows: HeldRows = new Map();
  private readonly loaded = new Set<number>();
  private all = false;

  constructor(private readonly load: HeldLoader) {}

  async ensure(rows: Iterable<readonly [string, string]>): Promise<void> {
    if (this.all) return;
    const missing = new Set<number>();
    for (const [entity, id] of rows) {
      const bucket = bucketOf(entity, id);
      if (!this.loaded.has(bucket)) missing.add(bucket);
    }
    if (missing.size === 0) return;
    this.merge(await this.load(missing));
    for (const bucket of missing) this.loaded.add(bucket);
  }

  async ensureAll(): Promise<void> {
    if (this.all) return;
    const rows = await this.load();
    this.rows.clear();
    this.merge(rows);
    this.all = true;
  }

  version(entity: string, id: string): string | undefined {
    return this.rows.get(entity)?.get(id);
  }

  /** Held ids of an entity (after {@link ensureAll}). */
  idsOf(entity: string): string[] {
    return [...(this.rows.get(entity)?.keys() ?? [])];
  }

  private merge(rows: HeldRows): void {
    for (const [entity, byId] of rows) {
      const mine = this.rows.get(entity) ?? new Map<string, string>();
      this.rows.set(entity, mine);
      for (const [id, version] of byId) mine.set(id, version);
    }
  }
}

/** Resolves an entity's work into the rows to judge, by id. */
async function collectRows(
  store: RecordStore,
  entity: CompiledEntity,
  w: EntityWork,
  held: HeldView,
): Promise<Map<string, StoredRecord | undefined>> {
  const rows = new Map(w.rows);
  const add = (records: readonly StoredRecord[]): void => {
    for (const record of records) if (!rows.has(record.id)) rows.set(record.id, record);
  };
  const byId = new Set(w.byId);
  const pairsBy = new Map<string, { sourceAttribute: string; targetAttribute: string; ids: string[] }>();
  for (const { intersectEntity, sourceAttribute, targetAttribute, id } of w.intersectSources) {
    const k = `${intersectEntity}\u0000${sourceAttribute}\u0000${targetAttribute}`;
    const entry = pairsBy.get(k) ?? { sourceAttribute, targetAttribute, ids: [] };
    pairsBy.set(k, entry);
    entry.ids.push(id);
  }
  for (const [k, { sourceAttribute, targetAttribute, ids }] of pairsBy) {
    const intersectEntity = k.split('\u0000')[0]!;
    for (const pair of await store.findRecordsByAttribute(intersectEntity, sourceAttribute, ids)) {
      const value = idValue(pair.attributes[targetAttribute]);
      if (value !== undefined) byId.add(value);
    }
  }
  if (byId.size > 0) add(await store.findRecordsByAttribute(entity.name, null, [...byId]));
  for (const [attribute, values] of w.byAttribute) {
    add(await store.findRecordsByAttribute(entity.name, attribute, [...values]));
  }
  if (w.allHeld) {
    await held.ensureAll();
    const ids = held.idsOf(entity.name).filter((id) => !rows.has(id));
    const found = new Map((await store.getRecords(entity.name, ids)).map((r) => [r.id, r]));
    for (const id of ids) rows.set(id, found.get(id));
  }
  return rows;
}

/** The ids among `rows` that are members now. */
async function judge(
  store: RecordStore,
  profile: CompiledDeviceProfile,
  entity: CompiledEntity,
  rows: ReadonlyMap<string, StoredRecord | undefined>,
  memberNow: (entity: string, id: string) => boolean,
  held: HeldView,
): Promise<Set<string>> {
  const members = new Set<string>();
  // Rows that meet the org filter and Read but not their own rule: members only when reached.
  const open: StoredRecord[] = [];
  for (const [id, record] of rows) {
    if (record === undefined || record.deleted) continue;
    const { membership } = entity;
    if (!membership.orgFilter(record.attributes) || !membership.canRead(record.attributes)) continue;
    if (membership.ownRule(record.attributes)) members.add(id);
    else open.push(record);
  }
  for (const association of entity.incoming) {
    const pending = open.filter((r) => !members.has(r.id));
    if (pending.length === 0) break;
    const reached = await reachedThrough(store, profile, entity, association, pending, memberNow, held);
    for (const record of pending) if (reached(record)) members.add(record.id);
  }
  return members;
}

/**
 * Which of `targets` a member row of the association's source links to now. Source rows are found by
 * lookups; their membership is the new judgement or the held one.
 */
async function reachedThrough(
  store: RecordStore,
  profile: CompiledDeviceProfile,
  entity: CompiledEntity,
  association: CompiledAssociation,
  targets: readonly StoredRecord[],
  memberNow: (entity: string, id: string) => boolean,
  held: HeldView,
): Promise<(record: StoredRecord) => boolean> {
  const source = profile.entities.get(association.source)!;
  const link = association.link;
  const values = new Set<string>();
  const memberSources = async (records: readonly StoredRecord[]): Promise<StoredRecord[]> => {
    await held.ensure(records.map((r) => [source.name, r.id]));
    return records.filter((r) => memberNow(source.name, r.id));
  };
  if (link.kind === 'lookup-on-source') {
    const keyOf = (r: StoredRecord): string | undefined =>
      linkValue(entity.metadata, link.targetAttribute, r.id, r.attributes);
    const keys = targets.flatMap((r) => keyOf(r) ?? []);
    const found = await store.findRecordsByAttribute(source.name, link.sourceAttribute, keys);
    for (const s of await memberSources(found)) {
      const value = idValue(s.attributes[link.sourceAttribute]);
      if (value !== undefined) values.add(value);
    }
    return (r) => {
      const key = keyOf(r);
      return key !== undefined && values.has(key);
    };
  }
  if (link.kind === 'lookup-on-target') {
    const byId = isPrimaryId(source, link.sourceAttribute);
    const keys = targets.flatMap((r) => idValue(r.attributes[link.targetAttribute]) ?? []);
    const found = await store.findRecordsByAttribute(source.name, byId ? null : link.sourceAttribute!, keys);
    for (const s of await memberSources(found)) {
      const value = linkValue(source.metadata, link.sourceAttribute, s.id, s.attributes);
      if (value !== undefined) values.add(value);
    }
    return (r) => {
      const key = idValue(r.attributes[link.targetAttribute]);
      return key !== undefined && values.has(key);
    };
  }
  // Many-to-many: intersect rows pairing a target with a source, then the sources' membership.
  const pairs = await store.findRecordsByAttribute(
    link.intersectEntity,
    link.targetAttribute,
    targets.map((r) => r.id.toLowerCase()),
  );
  const sourceIds = pairs.flatMap((p) => idValue(p.attributes[link.sourceAttribute]) ?? []);
  const sources = await store.findRecordsByAttribute(source.name, null, sourceIds);
  const memberIds = new Set((await memberSources(sources)).map((s) => s.id.toLowerCase()));
  for (const pair of pairs) {
    const from = idValue(pair.attributes[link.sourceAttribute]);
    const to = idValue(pair.attributes[link.targetAttribute]);
    if (from !== undefined && to !== undefined && memberIds.has(from)) values.add(to);
  }
  return (r) => values.has(r.id.toLowerCase());
}

function isPrimaryId(entity: CompiledEntity, attribute: string | undefined): boolean {
  return attribute === undefined || attribute === entity.metadata.primaryIdAttribute;
}

/**
 * Queues the target rows whose reach may have changed through `association` after its source's
 * rows were judged: those a row links to now when it changed or its membership did, and every
 * held target row when a held row changed (the value it linked by before is unknown).
 */
function propagate(
  entity: CompiledEntity,
  targetEntity: CompiledEntity,
  association: CompiledAssociation,
  rows: ReadonlyMap<string, StoredRecord | undefined>,
  verdicts: ReadonlyMap<string, boolean>,
  held: HeldView,
  changedKeys: ReadonlySet<string>,
  target: EntityWork,
): void {
  const link = association.link;
  for (const [id, record] of rows) {
    const isMember = verdicts.get(id) === true;
    const wasMember = held.version(entity.name, id) !== undefined;
    const rowChanged = changedKeys.has(rowKey(entity.name, id));
    if (isMember === wasMember && !rowChanged) continue;
    // A row that neither is nor was a member reaches nothing, before or now.
    if (!isMember && !wasMember) continue;
    const attributes = record?.deleted === false ? record.attributes : undefined;
    switch (link.kind) {
      case 'lookup-on-source': {
        if (wasMember && rowChanged) target.allHeld = true;
        const value = attributes === undefined ? undefined : idValue(attributes[link.sourceAttribute]);
        // The target row is named by its id, or by its own attribute when that is not the id.
        const byId = isPrimaryId(targetEntity, link.targetAttribute);
        if (value !== undefined) enqueue(target, byId ? undefined : link.targetAttribute, value);
        break;
      }
      case 'lookup-on-target': {
        const constantKey = isPrimaryId(entity, link.sourceAttribute);
        if (constantKey) {
          if (isMember !== wasMember) enqueue(target, link.targetAttribute, id.toLowerCase());
          break;
        }
        if (wasMember && rowChanged) target.allHeld = true;
        const value = attributes === undefined ? undefined : idValue(attributes[link.sourceAttribute!]);
        if (value !== undefined) enqueue(target, link.targetAttribute, value);
        break;
      }
      case 'intersect':
        // The pairs are read when the target is judged: a changed membership reaches through them.
        if (isMember !== wasMember) {
          const { intersectEntity, sourceAttribute, targetAttribute } = link;
          target.intersectSources.push({
            intersectEntity,
            sourceAttribute,
            targetAttribute,
            id: id.toLowerCase(),
          });
        }
        break;
    }
  }
}

/** Queues target rows by id (`attribute` undefined) or by an attribute's value. */
function enqueue(target: EntityWork, attribute: string | undefined, value: string): void {
  if (attribute === undefined) {
    target.byId.add(value);
    return;
  }
  const values = target.byAttribute.get(attribute) ?? new Set<string>();
  target.byAttribute.set(attribute, values);
  values.add(value);
}
