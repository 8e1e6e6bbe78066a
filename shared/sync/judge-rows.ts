import type { StoredRecord } from '../model/record';
import type { RecordProbe, RecordStore } from '../store/port';
import { timeKey, timeKeyInRange } from '../store/record-keys';
import {
  intersectPair,
  sourcesProbe,
  sourceValue,
  sourceValueIsId,
  targetsProbe,
  targetValue,
  type CompiledAssociation,
} from './associations';
import type { CompiledDeviceProfile, CompiledEntity } from './compile-device-profile';
import { heldLinks, heldVersion, toHeldValue, type HeldValue, type PlanEntry } from './device-state';
import { mergeProbes } from './membership-probes';

/**
 * What the device will hold once everything planned is sent: the held set with the outbox laid over
 * it (download.ts). Judging reads membership of rows it does not judge itself from here.
 */
export interface PlannedView {
  /** Loads what answering for these rows needs. */
  ensure(rows: Iterable<readonly [string, string]>): Promise<void>;
  /** The planned held value of a row (after {@link ensure}), undefined when it will not be held. */
  get(entity: string, id: string): HeldValue | undefined;
  /**
   * Visits every planned held row of an entity, without keeping the held set in memory (see
   * `HeldSet.scan`).
   */
  scan(entity: string, visit: (id: string, value: HeldValue) => void): Promise<void>;
}

/** Rows per look-up call: keeps each query's parameter list small. */
const VALUES_PER_LOOKUP = 500;
/** Rows per probe page while judging. */
const PROBE_PAGE = 1000;

/** One page of a probe's answer: what it holds, and where the next page starts. */
type ReadPage<T> = (
  probe: RecordProbe,
  options: { after?: string; limit: number },
) => Promise<{ items: readonly T[]; next: string | undefined }>;

/** Everything a probe finds, page by page, its values in bounded look-ups. */
async function readAll<T>(probe: RecordProbe, read: ReadPage<T>): Promise<T[]> {
  const out: T[] = [];
  if (probe.kind === 'text' || probe.kind === 'number') {
    if (probe.values.length === 0) return out;
    if (probe.values.length > VALUES_PER_LOOKUP) {
      for (let start = 0; start < probe.values.length; start += VALUES_PER_LOOKUP) {
        const values = probe.values.slice(start, start + VALUES_PER_LOOKUP);
        out.push(...(await readAll({ ...probe, values } as RecordProbe, read)));
      }
      return out;
    }
  }
  let after: string | undefined;
  for (;;) {
    const page = await read(probe, { limit: PROBE_PAGE, ...(after === undefined ? {} : { after }) });
    out.push(...page.items);
    if (page.next === undefined) return out;
    after = page.next;
  }
}

/** Every live row a probe finds, page by page. */
export function findAll(store: RecordStore, entity: string, probe: RecordProbe): Promise<StoredRecord[]> {
  return readAll(probe, async (p, options) => {
    const page = await store.findRecords(entity, p, options);
    return { items: page.records, next: page.next };
  });
}

/** The ids of every live row a probe finds, page by page (from the index alone where one serves). */
export function findAllIds(store: RecordStore, entity: string, probe: RecordProbe): Promise<string[]> {
  return readAll(probe, async (p, options) => {
    const page = await store.findRecordIds(entity, p, options);
    return { items: page.ids, next: page.next };
  });
}

/** The stored rows among `ids` (tombstones included), a bounded number per call. */
export async function getAll(
  store: RecordStore,
  entity: string,
  ids: readonly string[],
): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (let start = 0; start < ids.length; start += VALUES_PER_LOOKUP)
    out.push(...(await store.getRecords(entity, ids.slice(start, start + VALUES_PER_LOOKUP))));
  return out;
}

/**
 * The value a held source row offers its association's targets, as the device holds it: its id for a
 * link to the id, else the value its held value remembers (`CompiledEntity.remembered`).
 */
export function heldSourceValue(
  source: CompiledEntity,
  association: CompiledAssociation,
  id: string,
  held: HeldValue,
): string | undefined {
  if (sourceValueIsId(association)) return id.toLowerCase();
  return heldLinks(held)[source.remembered.indexOf(association)] ?? undefined;
}

/**
 * The held value a member row will have: its version, what its remembered associations offer, and
 * the time keys of its window attributes (`entity.keys`).
 */
export function plannedValue(entity: CompiledEntity, record: StoredRecord): HeldValue {
  // Built in one array (every planned row of a first download passes here).
  const links: (string | null)[] = [];
  for (const association of entity.remembered) links.push(sourceValue(association, record) ?? null);
  for (const attribute of entity.keys) {
    const key = timeKey(record.attributes[attribute]);
    links.push(key === undefined ? null : String(key));
  }
  return toHeldValue(record.version, links);
}

/**
 * Whether a held row's kept time keys may match a time probe on one of `entity.keys`: true when the
 * value keeps no such key (a value planned under another layout) — the row must then be read.
 */
export function heldKeysMayMatch(entity: CompiledEntity, value: HeldValue, probe: RecordProbe): boolean {
  if (probe.kind !== 'time' || probe.attribute === null) return true;
  const index = entity.keys.indexOf(probe.attribute);
  const links = heldLinks(value);
  if (index === -1 || links.length !== entity.remembered.length + entity.keys.length) return true;
  const kept = links[entity.remembered.length + index];
  if (kept === null || kept === undefined) return false;
  return timeKeyInRange(Number(kept), probe);
}

/** Is a live row a member on its own (the item's rule, the org filter, Read)? */
export function isDirectMember(entity: CompiledEntity, record: StoredRecord): boolean {
  const { membership } = entity;
  return (
    !record.deleted &&
    membership.ownRule(record.attributes) &&
    membership.orgFilter(record.attributes) &&
    membership.canRead(record.attributes)
  );
}

/** Rows of one entity to judge: known rows, and look-ups that find more. */
interface EntityWork {
  /** Rows by id; undefined: held but no longer stored. */
  rows: Map<string, StoredRecord | undefined>;
  /** Look-ups of more rows to judge. */
  probes: RecordProbe[];
  /** Intersect look-ups whose paired targets are to judge. */
  pairs: { association: CompiledAssociation; values: Set<string> }[];
  /** Every planned held row of the entity. */
  allHeld: boolean;
}

/** What judging some rows decided: the changes to plan, and the rows it read to decide. */
export interface JudgedRows {
  entries: PlanEntry[];
}

/**
 * Judges rows of the profile again and works out how the device's set changes (SPEC §6 removals are
 * exact), without scanning any entity: cost grows with the rows given and those linked to them.
 *
 * Entities are judged in the profile's association order (sources first). A row is a member when it
 * is live, meets the org filter and Read, and either its item's own rule or is reached: some member
 * row of an association's source offers its value (associations.ts). A source row's membership is
 * the verdict of this call when it was judged, else what the device will hold ({@link PlannedView}).
 *
 * With `propagate`, a judged source row whose membership or offered value changed sends its targets
 * to be judged too: those named by the value it offers now and by the value it offered when the
 * device got it (the device state remembers it, associations.ts `sourceValueIsId`). `intersectRows`
 * are changed rows of intersect entities: the pairs they make now are judged; the pairs they made
 * before are not known, so every planned held row of their target is judged again.
 */
export async function judgeRows(
  store: RecordStore,
  profile: CompiledDeviceProfile,
  view: PlannedView,
  rows: ReadonlyMap<string, ReadonlyMap<string, StoredRecord | undefined>>,
  options: { propagate: boolean; intersectRows?: readonly StoredRecord[] },
): Promise<JudgedRows> {
  const work = new Map<string, EntityWork>();
  const workOf = (entity: string): EntityWork => {
    let w = work.get(entity);
    if (w === undefined) {
      w = { rows: new Map(), probes: [], pairs: [], allHeld: false };
      work.set(entity, w);
    }
    return w;
  };
  for (const [entity, byId] of rows) {
    if (!profile.entities.has(entity)) continue;
    const w = workOf(entity);
    for (const [id, record] of byId) w.rows.set(id, record);
  }
  for (const record of options.intersectRows ?? []) {
    for (const entity of profile.entities.values()) {
      for (const association of entity.outgoing) {
        if (association.link.kind !== 'intersect' || association.link.intersectEntity !== record.entity)
          continue;
        const target = workOf(association.target);
        target.allHeld = true;
        const pair = intersectPair(association, record);
        if (pair !== undefined) target.probes.push({ kind: 'text', attribute: null, values: [pair.target] });
      }
    }
  }

  const decided = new Map<string, Map<string, boolean>>();
  const memberNow = (entity: string, id: string): boolean =>
    decided.get(entity)?.get(id) ?? view.get(entity, id) !== undefined;
  // What a source row offers its targets as the device will hold it: the row as stored when this
  // call judged it, else the value remembered with the held (or planned) row. Not the stored row's
  // own: a change to it not yet judged (read later with the changes) is not what the device holds.
  const offeredNow = (
    source: CompiledEntity,
    association: CompiledAssociation,
    record: StoredRecord,
  ): string | undefined => {
    const verdict = decided.get(source.name)?.get(record.id);
    if (verdict !== undefined) return verdict ? sourceValue(association, record) : undefined;
    const held = view.get(source.name, record.id);
    return held === undefined ? undefined : heldSourceValue(source, association, record.id, held);
  };
  const entries: PlanEntry[] = [];

  for (const name of profile.order) {
    const entity = profile.entities.get(name)!;
    const w = work.get(name);
    if (w === undefined) continue;
    const judged = await collectRows(store, view, entity, w);
    await view.ensure([...judged.keys()].map((id) => [name, id] as const));
    const members = await judge(store, profile, entity, judged, { memberNow, offeredNow }, view);
    const verdicts = new Map<string, boolean>();
    decided.set(name, verdicts);
    for (const [id, record] of judged) {
      const isMember = members.has(id);
      verdicts.set(id, isMember);
      const holds = view.get(name, id);
      if (isMember && record !== undefined) {
        const value = plannedValue(entity, record);
        if (holds === undefined || JSON.stringify(holds) !== JSON.stringify(value))
          entries.push([name, id, 'u', value]);
      } else if (holds !== undefined) {
        entries.push([name, id, 'r', heldVersion(holds)]);
      }
    }
    if (!options.propagate) continue;
    for (const association of entity.outgoing) {
      propagate(entity, association, judged, verdicts, view, workOf(association.target));
    }
  }
  return { entries };
}

/** Resolves an entity's work into the rows to judge, by id. */
async function collectRows(
  store: RecordStore,
  view: PlannedView,
  entity: CompiledEntity,
  w: EntityWork,
): Promise<Map<string, StoredRecord | undefined>> {
  const rows = new Map(w.rows);
  const add = (records: readonly StoredRecord[]): void => {
    for (const record of records) if (!rows.has(record.id)) rows.set(record.id, record);
  };
  for (const { association, values } of w.pairs) {
    const { entity: intersect, probe } = targetsProbe(association, [...values]);
    const targets = new Set<string>();
    for (const pair of await findAll(store, intersect, probe)) {
      const paired = intersectPair(association, pair);
      if (paired !== undefined) targets.add(paired.target);
    }
    if (targets.size > 0)
      add(await findAll(store, entity.name, { kind: 'text', attribute: null, values: [...targets] }));
  }
  for (const probe of mergeProbes(w.probes)) add(await findAll(store, entity.name, probe));
  if (w.allHeld) {
    const ids: string[] = [];
    await view.scan(entity.name, (id) => {
      if (!rows.has(id)) ids.push(id);
    });
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
  sources: SourceVerdicts,
  view: PlannedView,
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
    const reached = await reachedThrough(store, profile, association, pending, sources, view);
    for (const record of pending) if (reached.has(record.id)) members.add(record.id);
  }
  return members;
}

/** How source rows stand for {@link judge}: this call's verdicts, else what the device will hold. */
interface SourceVerdicts {
  memberNow: (entity: string, id: string) => boolean;
  offeredNow: (
    source: CompiledEntity,
    association: CompiledAssociation,
    record: StoredRecord,
  ) => string | undefined;
}

/**
 * The ids of `targets` a member row of the association's source reaches now. Source rows are found
 * by look-ups of their stored values; each reaches what it offers as this call judged it, or as the
 * device will hold it (a stored row that changed since offers its held value until it is judged).
 */
async function reachedThrough(
  store: RecordStore,
  profile: CompiledDeviceProfile,
  association: CompiledAssociation,
  targets: readonly StoredRecord[],
  { memberNow, offeredNow }: SourceVerdicts,
  view: PlannedView,
): Promise<Set<string>> {
  const source = profile.entities.get(association.source)!;
  const reached = new Set<string>();
  const memberSources = async (records: readonly StoredRecord[]): Promise<StoredRecord[]> => {
    await view.ensure(records.map((r) => [source.name, r.id] as const));
    return records.filter((r) => memberNow(source.name, r.id));
  };
  if (association.link.kind === 'intersect') {
    const { entity: intersect, probe } = sourcesProbe(
      association,
      targets.map((r) => r.id.toLowerCase()),
    );
    const pairs = (await findAll(store, intersect, probe)).flatMap(
      (p) => intersectPair(association, p) ?? [],
    );
    const sourceIds = [...new Set(pairs.map((p) => p.source))];
    const sources = await findAll(store, source.name, { kind: 'text', attribute: null, values: sourceIds });
    const memberIds = new Set((await memberSources(sources)).map((s) => s.id.toLowerCase()));
    const targetIds = new Set(pairs.filter((p) => memberIds.has(p.source)).map((p) => p.target));
    for (const record of targets) if (targetIds.has(record.id.toLowerCase())) reached.add(record.id);
    return reached;
  }
  const keys = new Map<string, StoredRecord[]>();
  for (const record of targets) {
    const key = targetValue(association, record);
    if (key === undefined) continue;
    const list = keys.get(key) ?? [];
    keys.set(key, list);
    list.push(record);
  }
  if (keys.size === 0) return reached;
  const { entity: sourceEntity, probe } = sourcesProbe(association, [...keys.keys()]);
  const found = await findAll(store, sourceEntity, probe);
  await view.ensure(found.map((r) => [source.name, r.id] as const));
  for (const s of found) {
    const value = offeredNow(source, association, s);
    for (const record of value === undefined ? [] : (keys.get(value) ?? [])) reached.add(record.id);
  }
  return reached;
}

/**
 * Sends to be judged the target rows whose reach through `association` may have changed after its
 * source's rows were judged: those named by the value a row offers now (when a member) and by the
 * value it offered when the device got it (when held), whenever the two differ.
 */
function propagate(
  entity: CompiledEntity,
  association: CompiledAssociation,
  rows: ReadonlyMap<string, StoredRecord | undefined>,
  verdicts: ReadonlyMap<string, boolean>,
  view: PlannedView,
  target: EntityWork,
): void {
  const changed = new Set<string>();
  for (const [id, record] of rows) {
    const held = view.get(entity.name, id);
    const now =
      verdicts.get(id) === true && record !== undefined ? sourceValue(association, record) : undefined;
    const before = held === undefined ? undefined : heldSourceValue(entity, association, id, held);
    if (now === before) continue;
    if (now !== undefined) changed.add(now);
    if (before !== undefined) changed.add(before);
  }
  if (changed.size === 0) return;
  if (association.link.kind === 'intersect') {
    target.pairs.push({ association, values: changed });
    return;
  }
  target.probes.push(targetsProbe(association, [...changed]).probe);
}
