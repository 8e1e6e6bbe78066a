import { AppError } from '../errors';
import { allOf } from '../filters/row-formula';
import type { StoredRecord } from '../model/record';
import type { ChangePage, ChangeScope, RecordProbe, TenantStore } from '../store/port';
import { probeMatches } from '../store/record-keys';
import { intersectPair, targetsProbe } from './associations';
import type { CompiledDeviceProfile, CompiledEntity } from './compile-device-profile';
import {
  emptyOutbox,
  heldVersion,
  type DeviceStateTransaction,
  type HeldSet,
  type HeldValue,
  type Judgement,
  type PlanEntry,
  type Task,
  type Work,
} from './device-state';
import { narrowsByDate } from './lookup-specs';
import {
  findAll,
  findAllIds,
  getAll,
  heldKeysMayMatch,
  heldSourceValue,
  isDirectMember,
  judgeRows,
  plannedValue,
  type PlannedView,
} from './judge-rows';
import {
  formulaCovers,
  formulaDelta,
  mergeProbes,
  ownershipCover,
  type ProbeCover,
} from './membership-probes';

/*
 * A device's sync as work (device-state.ts `Work`): a list of tasks that plan changes into an
 * outbox, run a bounded step at a time, and one `changes` task last that judges what changed in the
 * store since the work's starting cursor. How each event maps to tasks (docs/sync-cost.md has the
 * costs):
 *
 * - a new device: per entity, `enumerate` the rows its cover's look-ups find, then `reach` the rows
 *   its incoming associations reach from what the device will hold of their sources;
 * - rows changed: `changes` reads only the changes of the profile's entities (and, where the rule is
 *   covered by ownership, only those of the user's owners and business units), judged row by row;
 * - the user's context or the day changed (same rules, other bound values): `judge` the rows whose
 *   verdict can flip — look-ups of the values added or removed, or of the dates a window moved over;
 * - a rule, the metadata or an association of an entity changed: the entity and those its rows reach
 *   are judged again from their rows: `sweep` what the device holds, then `enumerate` and `reach`;
 * - the visible columns changed: `resend` the held rows; an entity left the profile: `drop` them.
 */

/** What running tasks needs. */
export interface WorkScope {
  store: TenantStore;
  profile: CompiledDeviceProfile;
  tx: DeviceStateTransaction;
  held: HeldSet;
  /** The judgement of the profile now. */
  judgement: Judgement;
  /** Counters of how the device's set was worked out (tests assert them). */
  counters: DownloadCounters;
}

/** How a download worked its device's set out: what a request did, summed over requests. */
export interface DownloadCounters {
  /** Entities judged again from their rows (a new device's entities not included). */
  recomputedEntities: number;
  /** Works that judged every entity again (an expired cursor). */
  fullRecomputes: number;
  /** Rows judged because a user's context or the day changed. */
  rejudgedRows: number;
  /** Changed rows judged. */
  changedRows: number;
}

export function newDownloadCounters(): DownloadCounters {
  return { recomputedEntities: 0, fullRecomputes: 0, rejudgedRows: 0, changedRows: 0 };
}

/** Changes read per step of a `changes` task. */
export const CHANGE_CHUNK = 1000;
/** Values per step of a `reach` task, rows per step of a sweep, resend or drop. */
const BATCH = 200;
/**
 * Held rows a first download's reach loads at most (its buckets) to skip reading targets it sent
 * already (about 12 MB of held values): all of a set this size or smaller, part of a larger one.
 */
export const FRESH_REACH_HELD_ROWS = 50_000;

/** The judgement of a compiled profile. */
export function judgementOf(profile: CompiledDeviceProfile): Judgement {
  return {
    digest: profile.judgementDigest,
    entities: Object.fromEntries(profile.order.map((name) => [name, profile.entities.get(name)!.judgement])),
  };
}

/** The formula a row must meet to be a member on its own: own rule AND org filter AND Read. */
function directFormula(judgement: Judgement['entities'][string]) {
  const { own, org, read } = judgement.formulas;
  return allOf([own, org, read]);
}

/**
 * Which changes a device with this judgement (and, while moving between two, the previous one) must
 * read: every change of an entity some association reaches or of an intersect entity; for the others,
 * the changes of the ownership keys that cover both judgements' rules when there are such keys.
 */
export function changeScopes(profile: CompiledDeviceProfile, previous: Judgement | null): ChangeScope[] {
  const scopes: ChangeScope[] = [];
  for (const name of profile.order) {
    const entity = profile.entities.get(name)!;
    if (entity.incoming.length > 0) {
      scopes.push({ entity: name });
      continue;
    }
    const now = ownershipCover(directFormula(entity.judgement));
    const old = previous?.entities[name];
    const before = old === undefined ? [] : ownershipCover(directFormula(old));
    if (now === undefined || before === undefined) scopes.push({ entity: name });
    else scopes.push({ entity: name, ownershipKeys: [...new Set([...now, ...before])].sort() });
  }
  for (const name of [...profile.intersectEntities].sort()) scopes.push({ entity: name });
  return scopes;
}

/** A cover's rank before counting: look-ups of a few values first, ranges next, the whole entity last. */
function coverRank(cover: ProbeCover): number {
  if (cover === 'all') return 3;
  return Math.max(0, ...cover.map((p) => (p.kind === 'time' ? 2 : p.kind === 'all' ? 3 : 1)));
}

/**
 * The rows some probes find, as the store counts them, up to `limit`: past it, some number above
 * `limit` (the counting stops there, so a wide look-up costs no more than the limit).
 */
async function countUpTo(
  store: TenantStore,
  entity: string,
  probes: readonly RecordProbe[],
  limit: number,
): Promise<number> {
  let rows = 0;
  for (const probe of probes) {
    rows += await store.countRecords(entity, probe, Number.isFinite(limit) ? { upTo: limit - rows + 1 } : {});
    if (rows > limit) break;
  }
  return rows;
}

/**
 * The cover of an entity's direct members the store answers with the fewest rows: each cover's
 * look-ups counted by the store (index counts), the likely smallest first, later ones only up to the
 * best so far — so comparing costs what the chosen cover holds, not what a wide one would.
 */
export async function chooseCover(
  store: TenantStore,
  entity: CompiledEntity,
): Promise<{ probes: RecordProbe[]; estimate: number } | undefined> {
  const covers = [...formulaCovers(directFormula(entity.judgement), entity.metadata)].sort(
    (a, b) => coverRank(a) - coverRank(b),
  );
  let best: { probes: RecordProbe[]; estimate: number } | undefined;
  for (const cover of covers) {
    const probes: RecordProbe[] = cover === 'all' ? [{ kind: 'all' }] : [...cover];
    const estimate = await countUpTo(store, entity.name, probes, best?.estimate ?? Infinity);
    if (best === undefined || estimate < best.estimate) best = { probes, estimate };
  }
  if (best !== undefined && best.probes.length === 0) return undefined;
  return best;
}

/** The tasks that work an entity out from its rows (`fresh`: the device holds none of them). */
async function entityTasks(store: TenantStore, entity: CompiledEntity, fresh: boolean): Promise<Task[]> {
  const tasks: Task[] = [];
  if (!fresh) tasks.push({ kind: 'sweep', entity: entity.name, after: null, filter: null, propagate: false });
  const cover = await chooseCover(store, entity);
  if (cover !== undefined) {
    tasks.push({
      kind: 'enumerate',
      entity: entity.name,
      fresh,
      probes: cover.probes,
      index: 0,
      after: null,
      estimate: fresh ? cover.estimate : 0,
      read: 0,
    });
  }
  for (const association of entity.incoming) {
    tasks.push({
      kind: 'reach',
      entity: entity.name,
      relationship: association.relationship,
      source: association.source,
      fresh,
      values: null,
      position: 0,
      after: null,
    });
  }
  return tasks;
}

function newWork(phase: Work['phase'], judgement: Judgement, tasks: Task[]): Work {
  return { phase, judgement, tasks, outbox: emptyOutbox(), sent: 0, cursor: null, recomputed: [] };
}

/** The work of a new device: every entity from its rows, then the changes since `cursor`. */
export async function initialWork(scope: WorkScope, cursor: string): Promise<Work> {
  const tasks: Task[] = [];
  for (const name of scope.profile.order) {
    tasks.push(...(await entityTasks(scope.store, scope.profile.entities.get(name)!, true)));
  }
  tasks.push({ kind: 'changes', scopes: changeScopes(scope.profile, null), cursor });
  return newWork('initial', scope.judgement, tasks);
}

/**
 * The work of a device whose rows were judged under `previous` and whose profile now judges
 * differently: only what the difference can move (see the top of this file), then the changes since
 * `cursor`, read for both judgements' scopes. With `everything` (the cursor expired), every entity is
 * judged again from its rows and the changes read from `cursor`, a fresh head.
 */
export async function judgementWork(
  scope: WorkScope,
  previous: Judgement,
  cursor: string,
  everything = false,
  options: { count: boolean } = { count: true },
): Promise<Work> {
  const { profile } = scope;
  const recompute = new Set<string>();
  const probes = new Map<string, EntityDelta>();
  const resend = new Set<string>();
  for (const name of profile.order) {
    const now = profile.entities.get(name)!.judgement;
    const old = previous.entities[name];
    if (everything || old === undefined || old.signature !== now.signature) {
      recompute.add(name);
      continue;
    }
    if (old.hidden !== now.hidden) resend.add(name);
    const found: EntityDelta = { entering: [], leaving: [] };
    for (const part of ['own', 'org', 'read'] as const) {
      const delta = formulaDelta(old.formulas[part], now.formulas[part]);
      if (delta.structural) {
        recompute.add(name);
        break;
      }
      found.entering.push(...delta.entering);
      found.leaving.push(...delta.leaving);
    }
    if (!recompute.has(name) && found.entering.length + found.leaving.length > 0)
      probes.set(name, { entering: mergeProbes(found.entering), leaving: mergeProbes(found.leaving) });
  }
  // Rows reached from an entity judged again may be reached no more, or anew: their entities too.
  for (const name of profile.order) {
    if (profile.entities.get(name)!.incoming.some((a) => recompute.has(a.source))) recompute.add(name);
  }
  const tasks: Task[] = [];
  for (const name of Object.keys(previous.entities).sort()) {
    if (!profile.entities.has(name)) tasks.push({ kind: 'drop', entity: name, after: null });
  }
  for (const name of profile.order) {
    const entity = profile.entities.get(name)!;
    if (recompute.has(name)) tasks.push(...(await entityTasks(scope.store, entity, false)));
    else if (probes.has(name)) tasks.push(...(await rejudgeTasks(scope, entity, probes.get(name)!)));
    if (resend.has(name)) tasks.push({ kind: 'resend', entity: name, after: null });
  }
  tasks.push({ kind: 'changes', scopes: changeScopes(profile, everything ? null : previous), cursor });
  const work = newWork('incremental', scope.judgement, tasks);
  work.recomputed = [...recompute].sort();
  if (options.count) {
    scope.counters.recomputedEntities += recompute.size;
    if (everything) scope.counters.fullRecomputes += 1;
  }
  return work;
}

/** The rows of an entity whose verdict can have flipped, by which way they can flip. */
interface EntityDelta {
  /** Rows that can only become members: none is held. */
  entering: RecordProbe[];
  /** Rows that can only stop being members: only held ones matter. */
  leaving: RecordProbe[];
}

/**
 * The tasks that judge again the rows of an entity whose bound values changed (`delta`: look-ups of
 * the rows whose verdict can flip). For an entity an association reaches, those look-ups (a reached
 * row can become a member without being in the cover). Otherwise each side where it is fewest:
 * - leaving rows are held ones: a window's lost part is answered from the held values' kept time
 *   keys (only the rows it names are read); another leaving probe is looked up, or the held rows are
 *   read and kept where it matches, whichever reads fewer;
 * - entering rows are not held: looked up, or found among the cover's rows (kept where an entering
 *   probe matches), whichever reads fewer — a day boundary of a wide window holds every user's rows
 *   of that day, a user's cover only theirs.
 */
async function rejudgeTasks(scope: WorkScope, entity: CompiledEntity, delta: EntityDelta): Promise<Task[]> {
  const judge = (probes: RecordProbe[], filter: RecordProbe[] | null): Task => ({
    kind: 'judge',
    entity: entity.name,
    probes,
    index: 0,
    after: null,
    filter,
  });
  if (entity.incoming.length > 0) return [judge(mergeProbes([...delta.entering, ...delta.leaving]), null)];
  const { store } = scope;
  const count = (probes: readonly RecordProbe[], limit: number): Promise<number> =>
    countUpTo(store, entity.name, probes, limit);
  const direct: RecordProbe[] = [];
  const tasks: Task[] = [];

  const keyed = delta.leaving.filter(
    (p) => p.kind === 'time' && p.attribute !== null && entity.keys.includes(p.attribute),
  );
  const unkeyed = delta.leaving.filter((p) => !keyed.includes(p));
  let sweepFilter: RecordProbe[] | null = null;
  if (unkeyed.length > 0) {
    // What the device holds, all entities: at most that many of this one's rows are read.
    const held = scope.held.state.size;
    if ((await count(unkeyed, held)) <= held) direct.push(...unkeyed);
    else sweepFilter = unkeyed;
  }
  if (keyed.length > 0 || sweepFilter !== null) {
    tasks.push({
      kind: 'sweep',
      entity: entity.name,
      after: null,
      filter: sweepFilter,
      held: keyed.length > 0 ? keyed : null,
      propagate: true,
    });
  }

  if (delta.entering.length > 0) {
    const cover = await chooseCover(store, entity);
    const narrowed = cover === undefined ? undefined : withinCover(cover.probes, delta.entering);
    if (narrowed !== undefined)
      // The cover's rows in the entering ranges, looked up as such: fewer than either alone.
      tasks.push(judge(narrowed, null));
    else if (cover === undefined || (await count(delta.entering, cover.estimate)) <= cover.estimate)
      direct.push(...delta.entering);
    else tasks.push(judge(cover.probes, delta.entering));
  }
  if (direct.length > 0) tasks.unshift(judge(mergeProbes(direct), null));
  return tasks;
}

/**
 * A cover of owners or business units narrowed to date ranges (each cover probe within each range):
 * the rows of the cover that lie in them, as composite look-ups (`lookupSpecsFor` prepares them).
 * Undefined unless every pair of cover probe and date range is one `narrowsByDate` allows.
 */
export function withinCover(
  cover: readonly RecordProbe[],
  ranges: readonly RecordProbe[],
): RecordProbe[] | undefined {
  const narrowed: RecordProbe[] = [];
  for (const probe of cover) {
    if (probe.kind !== 'text' || probe.within !== undefined || probe.attribute === null) return undefined;
    for (const range of ranges) {
      // Only the pairs publishing prepares an index for.
      if (range.kind !== 'time' || !narrowsByDate(probe.attribute, range.attribute)) return undefined;
      narrowed.push({ ...probe, within: { attribute: range.attribute, from: range.from, to: range.to } });
    }
  }
  return narrowed.length > 0 ? narrowed : undefined;
}

/** The work of a device whose judgement holds and whose profile's entities changed: the changes. */
export function changesWork(scope: WorkScope, cursor: string): Work {
  return newWork('incremental', scope.judgement, [
    { kind: 'changes', scopes: changeScopes(scope.profile, null), cursor },
  ]);
}

/**
 * The outbox of a request: planned entries by row (a row planned twice keeps its place and the
 * later decision), with whether the device holds the row now (`a`/`x`: not held, `u`/`r`: held).
 */
export class PlannedOutbox {
  private readonly entries = new Map<string, PlanEntry>();

  constructor(
    entries: readonly PlanEntry[],
    private readonly held: HeldSet,
    private readonly fresh: boolean,
  ) {
    for (const entry of entries) this.entries.set(rowKey(entry[0], entry[1]), entry);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The planned entry of a row. */
  entry(entity: string, id: string): PlanEntry | undefined {
    return this.entries.get(rowKey(entity, id));
  }

  /** Plans an upsert or a removal; whether the device holds the row decides its op. */
  async plan(entity: string, id: string, upsert: boolean, value: HeldValue): Promise<void> {
    const key = rowKey(entity, id);
    const previous = this.entries.get(key);
    let holds: boolean;
    if (previous !== undefined) holds = previous[2] === 'u' || previous[2] === 'r';
    else if (this.fresh) holds = false;
    else {
      await this.held.ensure([[entity, id]]);
      holds = this.held.get(entity, id) !== undefined;
    }
    this.entries.set(key, [entity, id, upsert ? (holds ? 'u' : 'a') : holds ? 'r' : 'x', value]);
  }

  /** Rows the planned entries add to the held set, minus those they remove. */
  net(): number {
    let net = 0;
    for (const entry of this.entries.values()) net += entry[2] === 'a' ? 1 : entry[2] === 'r' ? -1 : 0;
    return net;
  }

  /** Takes up to `count` entries from the front. */
  take(count: number): PlanEntry[] {
    const taken: PlanEntry[] = [];
    for (const [key, entry] of this.entries) {
      if (taken.length >= count) break;
      taken.push(entry);
      this.entries.delete(key);
    }
    return taken;
  }

  all(): PlanEntry[] {
    return [...this.entries.values()];
  }

  /** Entities with planned entries. */
  hasEntity(entity: string): boolean {
    for (const [e] of this.entries.values()) if (e === entity) return true;
    return false;
  }
}

/** A row's key in the maps of a request (the outbox, `RequestRows.seen`): entity and id. */
export function rowKey(entity: string, id: string): string {
  return `${entity}\u0000${id}`;
}

/** The planned view: the held set with the outbox over it. */
export function plannedView(held: HeldSet, outbox: PlannedOutbox): PlannedView {
  return {
    ensure: (rows) => held.ensure(rows),
    get(entity, id) {
      const planned = outbox.entry(entity, id);
      if (planned !== undefined) return planned[2] === 'a' || planned[2] === 'u' ? planned[3] : undefined;
      return held.get(entity, id);
    },
    async scan(entity, visit) {
      await held.scan(entity, (id, value) => {
        if (outbox.entry(entity, id) === undefined) visit(id, value);
      });
      for (const [e, id, op, value] of outbox.all()) {
        if (e === entity && (op === 'a' || op === 'u')) visit(id, value);
      }
    },
  };
}

/** What one request may still read before it answers (rows, counted by the store's meter). */
export interface Budget {
  exhausted(): boolean;
}

/** Rows read this request, for the budget (the caller's meter). */
export interface RequestRows {
  /** Rows read so far. */
  rows(): number;
  /** Rows kept from this request's reads, to send without reading them again. */
  seen: Map<string, StoredRecord>;
  /** A change page read ahead by the idle check, to use instead of reading it again. */
  prefetched?: { cursor: string; page: ChangePage };
}

/**
 * Runs one bounded step of the work's first task, planning into `outbox`. Returns true when the task
 * is finished.
 */
export async function runTaskStep(
  scope: WorkScope,
  work: Work,
  task: Task,
  outbox: PlannedOutbox,
  request: RequestRows,
  capacity: number,
): Promise<boolean> {
  const { store, profile } = scope;
  const view = plannedView(scope.held, outbox);
  const keep = (records: readonly StoredRecord[]): void => {
    for (const r of records) request.seen.set(rowKey(r.entity, r.id), r);
  };
  switch (task.kind) {
    case 'enumerate': {
      const entity = profile.entities.get(task.entity);
      if (entity === undefined) return true;
      const probe = task.probes[task.index];
      if (probe === undefined) return true;
      const page = await store.findRecords(entity.name, probe, {
        limit: probeLimit(capacity),
        ...(task.after === null ? {} : { after: task.after }),
      });
      keep(page.records);
      task.read += page.records.length;
      for (const record of page.records) {
        // A row an earlier probe of the cover finds too was planned there.
        if (task.probes.slice(0, task.index).some((p) => probeMatches(p, record))) continue;
        if (!isDirectMember(entity, record)) continue;
        if (!task.fresh) {
          await scope.held.ensure([[entity.name, record.id]]);
          const holds = view.get(entity.name, record.id);
          if (holds !== undefined && JSON.stringify(holds) === JSON.stringify(plannedValue(entity, record)))
            continue;
        }
        await outbox.plan(entity.name, record.id, true, plannedValue(entity, record));
      }
      if (page.next === undefined) {
        task.index += 1;
        task.after = null;
        task.estimate = Math.max(0, task.estimate - task.read);
        task.read = 0;
        return task.index >= task.probes.length;
      }
      task.after = page.next;
      return false;
    }
    case 'reach':
      return reachStep(scope, task, outbox, view, request);
    case 'sweep':
    case 'resend':
    case 'drop': {
      const entity = profile.entities.get(task.entity);
      // A sweep of kept keys only reads the held rows they may match.
      const keyed = task.kind === 'sweep' && task.filter === null ? (task.held ?? null) : null;
      const held = await firstHeldAfter(view, task.entity, task.after, BATCH, (_id, value) =>
        keyed === null || entity === undefined ? true : keyed.some((p) => heldKeysMayMatch(entity, value, p)),
      );
      const ids = [...held.keys()];
      if (ids.length === 0) return true;
      task.after = ids.at(-1)!;
      if (task.kind === 'drop' || entity === undefined) {
        for (const id of ids) await outbox.plan(task.entity, id, false, heldVersion(held.get(id)!));
        return false;
      }
      const records = await store.getRecords(task.entity, ids);
      keep(records);
      if (task.kind === 'resend') {
        const byId = new Map(records.map((r) => [r.id, r]));
        for (const id of ids) {
          const record = byId.get(id);
          if (record === undefined || record.deleted)
            await outbox.plan(task.entity, id, false, heldVersion(held.get(id)!));
          else await outbox.plan(task.entity, id, true, plannedValue(entity, record));
        }
        return false;
      }
      const rows = new Map<string, StoredRecord | undefined>(ids.map((id) => [id, undefined]));
      for (const record of records) rows.set(record.id, record);
      const { filter } = task;
      const kept = task.held ?? null;
      if (filter !== null || kept !== null) scope.counters.rejudgedRows += records.length;
      if (filter !== null) {
        // A held row still stored whose value no filter probe names, and whose kept keys no `held`
        // probe may match, cannot have flipped (a row changed since it was sent is judged with the
        // changes, read after this). Without a filter the ids were chosen by their kept keys already.
        for (const record of records) {
          const named =
            filter.some((p) => probeMatches(p, record)) ||
            (kept?.some((p) => heldKeysMayMatch(entity, held.get(record.id)!, p)) ?? false);
          if (!named) rows.delete(record.id);
        }
      }
      await planJudged(scope, outbox, view, new Map([[task.entity, rows]]), { propagate: task.propagate });
      return false;
    }
    case 'judge': {
      const probe = task.probes[task.index];
      if (probe === undefined) return true;
      const page = await store.findRecords(task.entity, probe, {
        limit: probeLimit(capacity),
        ...(task.after === null ? {} : { after: task.after }),
      });
      keep(page.records);
      scope.counters.rejudgedRows += page.records.length;
      const { filter } = task;
      const found =
        filter === null ? page.records : page.records.filter((r) => filter.some((p) => probeMatches(p, r)));
      const rows = new Map<string, StoredRecord | undefined>(found.map((r) => [r.id, r]));
      await planJudged(scope, outbox, view, new Map([[task.entity, rows]]), { propagate: true });
      if (page.next === undefined) {
        task.index += 1;
        task.after = null;
        return task.index >= task.probes.length;
      }
      task.after = page.next;
      return false;
    }
    case 'changes': {
      const prefetched = request.prefetched;
      const page =
        prefetched !== undefined && prefetched.cursor === task.cursor
          ? prefetched.page
          : await store.readChanges(task.cursor, CHANGE_CHUNK, task.scopes);
      request.prefetched = undefined;
      keep(page.records);
      const rows = new Map<string, Map<string, StoredRecord | undefined>>();
      const intersectRows: StoredRecord[] = [];
      for (const record of page.records) {
        if (profile.entities.has(record.entity)) {
          let byId = rows.get(record.entity);
          if (byId === undefined) {
            byId = new Map();
            rows.set(record.entity, byId);
          }
          byId.set(record.id, record);
        } else if (profile.intersectEntities.has(record.entity)) intersectRows.push(record);
      }
      scope.counters.changedRows += page.records.length;
      await planJudged(scope, outbox, view, rows, { propagate: true, intersectRows });
      task.cursor = page.cursor;
      if (page.more) return false;
      work.cursor = page.cursor;
      return true;
    }
  }
}

/**
 * The first `count` planned held rows of an entity after `after` in id order that `wanted` accepts,
 * by id in that order: chosen while the held set is scanned, holding at most a few times `count`.
 */
async function firstHeldAfter(
  view: PlannedView,
  entity: string,
  after: string | null,
  count: number,
  wanted: (id: string, value: HeldValue) => boolean,
): Promise<Map<string, HeldValue>> {
  let chosen: [string, HeldValue][] = [];
  const byId = (a: [string, HeldValue], b: [string, HeldValue]): number =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
  await view.scan(entity, (id, value) => {
    if (after !== null && id <= after) return;
    if (!wanted(id, value)) return;
    chosen.push([id, value]);
    if (chosen.length >= count * 4) chosen = chosen.sort(byId).slice(0, count);
  });
  return new Map(chosen.sort(byId).slice(0, count));
}

/** Rows per look-up page: what the page can still take, within bounds (the outbox keeps any excess). */
function probeLimit(capacity: number): number {
  return Math.max(100, Math.min(1000, capacity));
}

async function planJudged(
  scope: WorkScope,
  outbox: PlannedOutbox,
  view: PlannedView,
  rows: Map<string, Map<string, StoredRecord | undefined>>,
  options: { propagate: boolean; intersectRows?: StoredRecord[] },
): Promise<void> {
  const judged = await judgeRows(scope.store, scope.profile, view, rows, options);
  for (const [entity, id, op, value] of judged.entries) {
    await outbox.plan(entity, id, op === 'u' || op === 'a', value);
  }
}

/**
 * One step of a `reach` task: the next values its sources offer (listed once, sorted and distinct,
 * from what the device will hold of the source), the target rows they reach, and those that meet
 * the org filter and Read planned (in a fresh work, those that are members on their own were
 * planned by `enumerate`).
 */
async function reachStep(
  scope: WorkScope,
  task: Extract<Task, { kind: 'reach' }>,
  outbox: PlannedOutbox,
  view: PlannedView,
  request: RequestRows,
): Promise<boolean> {
  const { store, profile, tx } = scope;
  const entity = profile.entities.get(task.entity);
  const association = entity?.incoming.find(
    (a) => a.relationship === task.relationship && a.source === task.source,
  );
  if (entity === undefined || association === undefined) return true;
  const source = profile.entities.get(association.source)!;
  if (task.values === null) {
    const values = new Set<string>();
    await view.scan(source.name, (id, value) => {
      const offered = heldSourceValue(source, association, id, value);
      if (offered !== undefined) values.add(offered);
    });
    const sorted = [...values].sort();
    task.values = { chunks: await tx.writeChunks('r', sorted), total: sorted.length };
  }
  if (task.position >= task.values.total) {
    for (const chunk of task.values.chunks) tx.discardAfterCommit('plan', chunk.id);
    return true;
  }
  const chunkSize = task.values.chunks[0]!.count;
  const chunkIndex = Math.floor(task.position / chunkSize);
  const chunk = await tx.readChunk<string>(task.values.chunks[chunkIndex]!.id);
  const values = chunk.slice(task.position - chunkIndex * chunkSize).slice(0, BATCH);
  task.position += values.length;
  let targets: StoredRecord[];
  const { entity: probed, probe } = targetsProbe(association, values);
  if (association.link.kind === 'intersect') {
    const pairs = await findAll(store, probed, probe);
    const ids = [...new Set(pairs.flatMap((p) => intersectPair(association, p)?.target ?? []))];
    targets = await findAll(store, entity.name, { kind: 'text', attribute: null, values: ids });
  } else if (task.fresh) {
    // Targets the device will hold already (members on their own, planned by `enumerate`, or
    // reached before) would be skipped or planned the same again, so only the others' rows are
    // read: their ids first (the values themselves for a link to the id, else from the index). On a
    // first download most reached rows are members on their own. A row changed between the two
    // reads is judged as it is now, and only if the probe still finds it (the change sequence
    // tells the rest, as between any two pages).
    const byId = probe.kind === 'text' && probe.attribute === null;
    const ids = byId ? probe.values : await findAllIds(store, probed, probe);
    // Within a bounded part of the held set: a row of a bucket not loaded is read and planned again.
    await scope.held.ensureUpTo(
      ids.map((id) => [entity.name, id] as const),
      FRESH_REACH_HELD_ROWS,
    );
    const unplanned = ids.filter((id) => view.get(entity.name, id) === undefined);
    targets = byId
      ? // Link values find ids as the index compares them (record-keys.ts), not byte for byte.
        await findAll(store, probed, { ...probe, values: unplanned })
      : (await getAll(store, probed, unplanned)).filter((r) => !r.deleted && probeMatches(probe, r));
  } else {
    targets = await findAll(store, probed, probe);
  }
  for (const r of targets) request.seen.set(rowKey(r.entity, r.id), r);
  const { membership } = entity;
  for (const record of targets) {
    if (record.deleted || !membership.orgFilter(record.attributes) || !membership.canRead(record.attributes))
      continue;
    const value = plannedValue(entity, record);
    if (task.fresh) {
      if (isDirectMember(entity, record)) continue;
    } else {
      await scope.held.ensure([[entity.name, record.id]]);
      const holds = view.get(entity.name, record.id);
      if (holds !== undefined && JSON.stringify(holds) === JSON.stringify(value)) continue;
    }
    await outbox.plan(entity.name, record.id, true, value);
  }
  return false;
}

/** Rows the fresh enumerations of a work still expect to plan (an estimate, for progress). */
export function expectedRemaining(work: Work): number {
  let remaining = 0;
  for (const task of work.tasks) {
    if (task.kind === 'enumerate' && task.fresh) remaining += Math.max(0, task.estimate - task.read);
  }
  return remaining;
}

/** Thrown into a work whose `changes` task holds an expired cursor. */
export function isCursorExpired(error: unknown): boolean {
  return error instanceof AppError && error.code === 'ChangeCursorExpired';
}
